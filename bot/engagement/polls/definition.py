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
from bot.conversation.flows.schema import WITH_CHOICES, FlowError, Problems, check_node, check_text, content_slug, flag
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
    raw: Any, what: str, *, required: bool = True, fallback: str | None = None
) -> dict[str, str] | None:
    """A text per language ("*" for all), written by staff; FlowError naming the text and the missing languages.

    With a fallback language, languages without a text get the fallback's text (kept under "*")."""
    if raw is None and not required:
        return None
    if not isinstance(raw, dict) or not raw:
        raise FlowError(f"{what} must be one text per language ({', '.join(SUPPORTED_LOCALES)})")
    texts = dict(raw)
    if fallback is not None and "*" not in texts:
        if fallback not in texts:
            raise FlowError(f"{what} has no text in the fallback language {fallback}")
        texts["*"] = texts[fallback]
    checked = check_text(texts, what)
    assert isinstance(checked, dict)
    return checked


def fallback_language(document: dict[str, Any]) -> str | None:
    """The document's `fallback_language` (who lacks a text gets this one's), checked; None when not given."""
    fallback = document.get("fallback_language")
    if fallback is None:
        return None
    if fallback not in SUPPORTED_LOCALES:
        raise FlowError(f"fallback_language must be one of {', '.join(SUPPORTED_LOCALES)}")
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


def poll_problems(document: dict[str, Any]) -> list[FlowError]:
    """Every error of a poll file at once, each with its place in the document: the slug, a text, a question or one of
    its options (a question's id given twice among them)."""
    problems = Problems("poll")
    _compile(document, problems)
    return problems.found


def compile_poll(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The poll's own fields and the flow document of its questions; else its first FlowError (naming the question
    and the language)."""
    problems = Problems("poll")
    compiled = _compile(document, problems)
    if compiled is None:
        raise problems.found[0]
    return compiled


Texts = Callable[[Any, str], dict[str, str] | None]


def _compile(document: dict[str, Any], problems: Problems) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Every part of a poll checked, its errors kept in problems; its fields and its flow when there is none."""
    slug = document.get("slug")
    with problems.at("slug"):
        content_slug("poll", slug)
    problems = problems.within(subject=f"poll {slug!r}")
    if document.get("spec_version") != 1:
        problems.add(FlowError("spec_version must be 1"), "spec_version")
    fallback = None
    with problems.at("fallback_language"):
        fallback = fallback_language(document)

    def texts(raw: Any, what: str) -> dict[str, str] | None:
        return texts_in_every_language(raw, what, required=what != "intro", fallback=fallback)

    written: dict[str, dict[str, str] | None] = {}
    for key in ("title", "intro", "thanks"):
        with problems.at(key):
            written[key] = texts(document.get(key), key)
    keywords = document.get("keywords") or {}
    if not isinstance(keywords, dict) or not all(isinstance(v, str) and v.strip() for v in keywords.values()):
        problems.add(FlowError("keywords: a mapping of language to one keyword"), "keywords")
    if link_problem := results_url_problem(document.get("results_url")):
        problems.add(FlowError(link_problem), "results_url")
    nodes = _question_nodes(document.get("questions"), texts, problems)
    if problems.found:
        return None
    ids = list(nodes)
    for current, following in zip(ids, [*ids[1:], "thanks"], strict=True):
        nodes[current]["next"] = following
    if written["intro"]:
        nodes["intro"] = {"kind": "send", "text": written["intro"], "next": ids[0]}
    nodes["thanks"] = {"kind": "send", "text": written["thanks"], "next": "done"}
    nodes["done"] = {"kind": "end"}
    title = written["title"] or {}
    name = pick_text(title, "en") or str(slug)
    start = "intro" if written["intro"] else ids[0]
    flow = {"spec_version": 1, "slug": f"{POLL_FLOW_PREFIX}{slug}", "name": name, "start": start, "nodes": nodes}
    fields = {"slug": slug, "title": title, "keywords": keywords, "results_url": document.get("results_url")}
    return fields, flow


def _question_nodes(raw: Any, texts: Texts, problems: Problems) -> dict[str, dict[str, Any]]:
    """The questions as flow nodes, by id (an id given twice is an error of the second question)."""
    if not isinstance(raw, list) or not raw:
        problems.add(FlowError("questions must be a non-empty list"), "questions")
        return {}
    nodes: dict[str, dict[str, Any]] = {}
    first_with: dict[str, int] = {}
    for index, question in enumerate(raw):
        qid = question.get("id") if isinstance(question, dict) else None
        name = f"question {qid!r}" if isinstance(qid, str) else f"question {index + 1}"
        part = problems.within("questions", index, subject=f"{problems.subject}, {name}")
        node = _question_node(question, texts, part)
        if not isinstance(qid, str):
            continue
        if qid in first_with:
            part.add(FlowError(f"the id {qid!r} is used twice: question {first_with[qid] + 1} has it too"), "id")
        else:
            first_with[qid] = index
        if node is not None:
            nodes.setdefault(qid, node)
    return nodes


# A question's node's keys, as the question names them.
QUESTION_KEYS = {"choices": "options", "question": "id", "save_as": "id", "skippable": "optional"}


def _question_node(question: Any, texts: Texts, problems: Problems) -> dict[str, Any] | None:
    """One question of a poll file as a flow node (its id is its question id), checked as the node it becomes; every
    error kept in problems, at the question's own keys."""
    if not isinstance(question, dict):
        problems.add(FlowError("a question is a mapping with an id, a kind and a text"))
        return None
    before = len(problems.found)
    qid = question.get("id")
    if not isinstance(qid, str) or not qid:
        problems.add(FlowError("needs an id"), "id")
    kind = QUESTION_KINDS.get(str(question.get("kind")))
    if kind is None:
        problems.add(FlowError(f"kind must be one of {', '.join(QUESTION_KINDS)}"), "kind")
    node: dict[str, Any] = {"kind": kind, "question": qid, "save_as": qid, "next": "thanks"}
    with problems.at("text"):
        node["text"] = texts(question.get("text"), "text")
    with problems.at("optional"):
        node["skippable"] = flag(question.get("optional"), "optional")
    if kind in WITH_CHOICES:
        node["choices"] = _choices(question.get("options"), texts, problems)
    if "max_choices" in question:
        node["max_choices"] = question["max_choices"]
    if kind == "ask-text":
        node["max_length"] = question.get("max_length", 1000)
    if kind is None or not isinstance(qid, str) or not qid:
        return None
    reported = {error.place for error in problems.found[before:]}
    as_node = Problems(problems.subject)
    check_node(qid, node, as_node)
    for error in as_node.found:  # the node's own checks (ids, values, numbers), placed at the question's keys
        key, *rest = error.place or ("",)
        error.place = (QUESTION_KEYS.get(str(key), key), *rest) if error.place else ()
        if (*problems.place, *error.place) not in reported:
            problems.add(error)
    return node if len(problems.found) == before else None


def _choices(raw: Any, texts: Texts, problems: Problems) -> list[Any]:
    """A question's options as the choices of its node: each a value, a label in every language and its words."""
    if not isinstance(raw, list) or len(raw) < 2:
        problems.add(FlowError("needs at least two options"), "options")
        return []
    choices: list[Any] = []
    for index, option in enumerate(raw):
        if not isinstance(option, dict):
            problems.add(FlowError("an option is a mapping with a value and a label"), "options", index)
            choices.append(option)  # kept in its place: the node's errors about the others are at their own
            continue
        value = option.get("value")
        choice = {"value": str(value) if isinstance(value, (int, float)) else value, "words": option.get("words", [])}
        with problems.at("options", index, "label"):
            choice["label"] = texts(option.get("label"), "label")
        choices.append(choice)
    return choices


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
