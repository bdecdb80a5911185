"""Polls as data: a poll file compiles to a flow of question nodes; draft -> open -> closed in the store."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.conversation.flows.schema import FlowError, content_slug, flag, parse_flow
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.i18n.negotiation import SUPPORTED_LOCALES, pick_text
from bot.states import PollStatus
from bot.store.engagement import Poll
from bot.store.flow_registry import FlowRegistry

QUESTION_KINDS = {
    "single": "ask-choice",
    "multi": "ask-multi",
    "ranking": "ask-ranking",
    "rating": "ask-rating",
    "yes_no": "ask-yes-no",
    "text": "ask-text",
}
STATUSES = (PollStatus.DRAFT, PollStatus.OPEN, PollStatus.CLOSED)
MAX_RESULTS_URL = 300  # the column's size


def texts_in_every_language(
    slug: str, where: str, raw: Any, what: str = "poll", *, required: bool = True, fallback: str | None = None
) -> dict[str, str] | None:
    """A text per language ("*" for all); FlowError naming the file's item and the missing languages.

    With a fallback language, languages without a text get the fallback's text (kept under "*")."""
    if raw is None and not required:
        return None
    if not isinstance(raw, dict) or not all(isinstance(v, str) and v.strip() for v in raw.values()):
        raise FlowError(f"{what} {slug!r}, {where}: give one text per language ({', '.join(SUPPORTED_LOCALES)})")
    texts = {str(k): str(v) for k, v in raw.items()}
    if fallback is not None and "*" not in texts:
        if fallback not in texts:
            raise FlowError(f"{what} {slug!r}, {where}: no text in the fallback language {fallback}")
        texts["*"] = texts[fallback]
    missing = [loc for loc in SUPPORTED_LOCALES if loc not in texts and "*" not in texts]
    if missing:
        raise FlowError(f"{what} {slug!r}, {where}: missing languages {missing}")
    return texts


def fallback_language(document: dict[str, Any], what: str = "poll") -> str | None:
    """The document's `fallback_language` (who lacks a text gets this one's), checked; None when not given."""
    fallback = document.get("fallback_language")
    if fallback is None:
        return None
    if fallback not in SUPPORTED_LOCALES:
        raise FlowError(
            f"{what} {document.get('slug')!r}: fallback_language must be one of {', '.join(SUPPORTED_LOCALES)}"
        )
    return str(fallback)


def results_url_problem(raw: Any) -> str | None:
    """Why a poll's link to its results cannot be kept (None when it can, or when there is none)."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"https?://\S+", raw):
        return "the results link must start with https:// or http://"
    if len(raw) > MAX_RESULTS_URL:
        return f"the results link must be at most {MAX_RESULTS_URL} characters"
    return None


def compile_poll(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The poll's own fields and the flow document of its questions; FlowError names question and language."""
    slug = content_slug("poll", document.get("slug"))
    if document.get("spec_version") != 1:
        raise FlowError(f"poll {slug!r}: spec_version must be 1")
    fallback = fallback_language(document)

    def texts(where: str, raw: Any, required: bool = True) -> dict[str, str] | None:
        return texts_in_every_language(slug, where, raw, required=required, fallback=fallback)

    title = texts("title", document.get("title"))
    keywords = document.get("keywords") or {}
    if not isinstance(keywords, dict) or not all(isinstance(v, str) and v.strip() for v in keywords.values()):
        raise FlowError(f"poll {slug!r}, keywords: a mapping of language to one keyword")
    questions = document.get("questions")
    if not isinstance(questions, list) or not questions:
        raise FlowError(f"poll {slug!r}: questions must be a non-empty list")
    nodes: dict[str, dict[str, Any]] = {}
    for index, question in enumerate(questions, 1):
        node = _question_node(slug, index, question, texts)
        if node["question"] in nodes:
            raise FlowError(f"poll {slug!r}, question {index}: the id {node['question']!r} is used twice")
        nodes[node["question"]] = node
    ids = list(nodes)
    for current, following in zip(ids, [*ids[1:], "thanks"], strict=True):
        nodes[current]["next"] = following
    start = ids[0]
    intro = texts("intro", document.get("intro"), required=False)
    if intro:
        nodes["intro"] = {"kind": "send", "text": intro, "next": ids[0]}
        start = "intro"
    nodes["thanks"] = {"kind": "send", "text": texts("thanks", document.get("thanks")), "next": "done"}
    nodes["done"] = {"kind": "end"}
    name = pick_text(title, "en") or slug
    flow = {"spec_version": 1, "slug": POLL_FLOW_PREFIX + slug, "name": name, "start": start, "nodes": nodes}
    parse_flow(flow)  # the compiled flow must itself be valid
    problem = results_url_problem(document.get("results_url"))
    if problem:
        raise FlowError(f"poll {slug!r}: {problem}")
    fields = {"slug": slug, "title": title, "keywords": keywords, "results_url": document.get("results_url")}
    return fields, flow


def poll_problems(document: dict[str, Any]) -> list[tuple[tuple[str | int, ...], FlowError]]:
    """Every error of a poll file at once, each with its place in the document (("questions", 2) is the third
    question): the parts checked one by one, then (when they all pass) the poll as a whole."""
    found: list[tuple[tuple[str | int, ...], FlowError]] = []
    slug = str(document.get("slug"))
    fallback: str | None = None
    try:
        content_slug("poll", document.get("slug"))
    except FlowError as exc:
        found.append((("slug",), exc))
    try:
        fallback = fallback_language(document)
    except FlowError as exc:
        found.append((("fallback_language",), exc))

    def texts(where: str, raw: Any) -> dict[str, str] | None:
        return texts_in_every_language(slug, where, raw, fallback=fallback)

    for key in ("title", "thanks"):
        try:
            texts(key, document.get(key))
        except FlowError as exc:
            found.append(((key,), exc))
    questions = document.get("questions")
    seen: set[str] = set()
    for index, question in enumerate(questions if isinstance(questions, list) else [], 1):
        qid = question.get("id") if isinstance(question, dict) else None
        if isinstance(qid, str) and qid in seen:
            found.append(
                (("questions", index - 1), FlowError(f"poll {slug!r}, question {index}: the id {qid!r} is used twice"))
            )
        seen.add(str(qid))
        try:
            _question_node(slug, index, question, texts)
        except FlowError as exc:
            found.append((("questions", index - 1), exc))
    if not found:
        try:
            compile_poll(document)
        except FlowError as exc:
            found.append(((), exc))
    return found


def _question_node(
    slug: str, index: int, question: Any, texts: Callable[[str, Any], dict[str, str] | None]
) -> dict[str, Any]:
    """One question of a poll file as a flow node (its id is its question id)."""
    if not isinstance(question, dict) or not isinstance(question.get("id"), str):
        raise FlowError(f"poll {slug!r}, question {index}: needs an id")
    qid = question["id"]
    kind = QUESTION_KINDS.get(str(question.get("kind")))
    if kind is None:
        raise FlowError(f"poll {slug!r}, question {qid!r}: kind must be one of {', '.join(QUESTION_KINDS)}")
    node: dict[str, Any] = {
        "kind": kind,
        "text": texts(f"question {qid!r}", question.get("text")),
        "question": qid,
        "save_as": qid,
        "skippable": _optional(slug, qid, question.get("optional")),
    }
    if kind in ("ask-choice", "ask-multi", "ask-ranking"):
        options = question.get("options")
        if not isinstance(options, list) or len(options) < 2:
            raise FlowError(f"poll {slug!r}, question {qid!r}: needs at least two options")
        node["choices"] = [
            {
                "value": str(o.get("value")),
                "label": texts(f"question {qid!r}, option {o.get('value')!r}", o.get("label")),
                "words": o.get("words", []),
            }
            for o in options
        ]
    if "max_choices" in question:
        node["max_choices"] = question["max_choices"]
    if kind == "ask-text":
        node["max_length"] = question.get("max_length", 1000)  # checked with the rest of the flow (schema)
    return node


def _optional(slug: str, qid: str, raw: Any) -> bool:
    try:
        return flag(raw, "optional")
    except FlowError as exc:
        raise FlowError(f"poll {slug!r}, question {qid!r}: {exc}") from exc


def load_poll(session: Session, document: dict[str, Any], flows: FlowRegistry, clock: Clock) -> tuple[Poll, int]:
    """Store the poll (a new draft, or new texts for an existing one), its source document and a new version
    of its questions (residents already in the poll keep the version they started)."""
    fields, flow = compile_poll(document)
    version = flows.store(session, flow, clock)
    source = json.loads(json.dumps(document, ensure_ascii=False, default=str))  # kept to edit it on the dashboard
    poll = session.scalars(select(Poll).where(Poll.slug == fields["slug"])).first()
    if poll is None:
        poll = Poll(
            slug=fields["slug"],
            status=PollStatus.DRAFT,
            title=fields["title"],
            keywords=fields["keywords"],
            results_url=fields["results_url"],
            document=source,
            created_at=clock.now(),
        )
        session.add(poll)
    else:
        poll.title, poll.keywords, poll.results_url = fields["title"], fields["keywords"], fields["results_url"]
        poll.document = source
    session.flush()
    return poll, version.version


def set_status(session: Session, slug: str, status: str, now: datetime) -> Poll:
    """Open or close a poll (draft -> open -> closed; a closed poll can be reopened)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}")
    poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
    if poll is None:
        raise LookupError(f"no poll {slug!r}")
    if status == PollStatus.OPEN and poll.status != PollStatus.OPEN:
        poll.opened_at = now
    if status == PollStatus.CLOSED and poll.status != PollStatus.CLOSED:
        poll.closed_at = now
    poll.status = status
    return poll
