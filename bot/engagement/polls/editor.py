"""Poll authoring for the dashboard: form fields <-> a poll document, and saving it as a new version (the checks
are in polls/checks.py)."""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.conversation.flows.schema import Flow
from bot.engagement.forms import Texts, form_count, form_field, form_texts
from bot.engagement.polls.definition import QUESTION_KINDS, load_poll
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.ids import plain_number
from bot.store.engagement import Poll
from bot.store.flow_registry import FlowRegistry

CHOICE_KINDS = ("single", "multi", "ranking")
KIND_NAMES = {
    "single": "One choice",
    "multi": "Several choices",
    "ranking": "Ranking (put options in order)",
    "rating": "Rating from 1 to 5",
    "yes_no": "Yes or no",
    "text": "Open text (answers go to the inbox)",
}
MAX_QUESTIONS = 30
MAX_OPTIONS = 15
IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass
class OptionDraft:
    """One option of a choice question as typed: its short value and its label per language."""

    value: str = ""
    label: Texts = field(default_factory=dict)

    def is_blank(self) -> bool:
        """Nothing typed: ignored when saving."""
        return not self.value and not self.label


@dataclass
class QuestionDraft:
    """One question as typed."""

    id: str = ""
    kind: str = "single"
    optional: bool = False
    max_choices: str = ""
    text: Texts = field(default_factory=dict)
    options: list[OptionDraft] = field(default_factory=lambda: [OptionDraft(), OptionDraft()])

    def is_blank(self) -> bool:
        """Nothing typed (an id alone does not count): ignored when saving, which is how a question is removed."""
        return not self.text and all(o.is_blank() for o in self.options)


@dataclass
class PollDraft:
    """A poll as the form holds it: texts per language (only the languages written), questions, settings."""

    slug: str = ""
    fallback: str = ""
    area_results: bool = False
    results_url: str = ""
    title: Texts = field(default_factory=dict)
    intro: Texts = field(default_factory=dict)
    thanks: Texts = field(default_factory=dict)
    keywords: Texts = field(default_factory=dict)
    questions: list[QuestionDraft] = field(default_factory=lambda: [QuestionDraft()])


def draft_from_form(form: Mapping[str, Any]) -> PollDraft:
    """Read the poll form (names like `title.es`, `q0.kind`, `q0.text.en`, `q0.o1.label.fr`); nothing is lost."""
    draft = PollDraft(
        slug=form_field(form, "slug", 64).lower(),
        fallback=form_field(form, "fallback", 16),
        area_results=bool(form.get("area_results")),
        results_url=form_field(form, "results_url", 300),
        title=form_texts(form, "title", 200),
        intro=form_texts(form, "intro"),
        thanks=form_texts(form, "thanks"),
        keywords=form_texts(form, "keyword", 40),
        questions=[],
    )
    for q in range(form_count(form, "question_count", 1, MAX_QUESTIONS)):
        prefix = f"q{q}"
        options = [
            OptionDraft(form_field(form, f"{prefix}.o{o}.value", 64), form_texts(form, f"{prefix}.o{o}.label", 200))
            for o in range(form_count(form, f"{prefix}.option_count", 2, MAX_OPTIONS))
        ]
        draft.questions.append(
            QuestionDraft(
                id=form_field(form, f"{prefix}.id", 64),
                kind=form_field(form, f"{prefix}.kind", 16) or "single",
                optional=bool(form.get(f"{prefix}.optional")),
                max_choices=form_field(form, f"{prefix}.max_choices", 4),
                text=form_texts(form, f"{prefix}.text"),
                options=options,
            )
        )
    return draft


def apply_action(draft: PollDraft, action: str) -> bool:
    """Grow the form for "add_question" or "add_option:<question index>"; False when it is not such an action."""
    if action == "add_question":
        if len(draft.questions) < MAX_QUESTIONS:
            draft.questions.append(QuestionDraft())
        return True
    name, _, raw_index = action.partition(":")
    index = plain_number(raw_index, MAX_QUESTIONS) if raw_index else None
    if name == "add_option" and index is not None and index < len(draft.questions):
        question = draft.questions[index]
        if len(question.options) < MAX_OPTIONS:
            question.options.append(OptionDraft())
        return True
    return False


def given_texts(raw: Any) -> Texts:
    """The languages a document's text was written in ("*" stands for every language)."""
    if isinstance(raw, str) and raw.strip():
        return {"*": raw}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items() if isinstance(v, str) and v.strip()}
    return {}


def _written(raw: Any) -> Texts:
    """A document's text as the form shows it: every language written (a "*" text fills the others)."""
    texts = given_texts(raw)
    every = texts.pop("*", None)
    if every is not None:
        for locale in SUPPORTED_LOCALES:
            texts.setdefault(locale, every)
    return {locale: texts[locale] for locale in SUPPORTED_LOCALES if locale in texts}


def draft_from_document(document: Mapping[str, Any], area_results: bool = False) -> PollDraft:
    """The form's content for a stored poll document (dashboard-made or loaded from a YAML file)."""
    questions = []
    for raw in document.get("questions") or []:
        if not isinstance(raw, dict):
            continue
        options = [
            OptionDraft(str(o.get("value", "")), _written(o.get("label")))
            for o in raw.get("options") or []
            if isinstance(o, dict)
        ]
        questions.append(
            QuestionDraft(
                id=str(raw.get("id", "")),
                kind=str(raw.get("kind", "single")),
                optional=bool(raw.get("optional", False)),
                max_choices=str(raw.get("max_choices") or ""),
                text=_written(raw.get("text")),
                options=options or [OptionDraft(), OptionDraft()],
            )
        )
    return PollDraft(
        slug=str(document.get("slug", "")),
        fallback=str(document.get("fallback_language") or ""),
        area_results=area_results,
        results_url=str(document.get("results_url") or ""),
        title=_written(document.get("title")),
        intro=_written(document.get("intro")),
        thanks=_written(document.get("thanks")),
        keywords={str(k): str(v) for k, v in (document.get("keywords") or {}).items() if str(v).strip()},
        questions=questions or [QuestionDraft()],
    )


def document_from_flow(poll: Poll, flow: Flow) -> dict[str, Any]:
    """A poll document rebuilt from its compiled questions (for polls stored before documents were kept)."""
    kinds = {node_kind: kind for kind, node_kind in QUESTION_KINDS.items()}
    questions = []
    for node in flow.nodes.values():
        if not node.question or node.kind not in kinds:
            continue
        question: dict[str, Any] = {"id": node.question, "kind": kinds[node.kind], "text": node.text}
        if node.skippable:
            question["optional"] = True
        if node.choices:
            question["options"] = [{"value": c.value, "label": c.label} for c in node.choices]
        if node.max_choices:
            question["max_choices"] = node.max_choices
        questions.append(question)
    document: dict[str, Any] = {
        "slug": poll.slug,
        "title": poll.title,
        "keywords": poll.keywords,
        "questions": questions,
        "results_url": poll.results_url,
    }
    for name in ("intro", "thanks"):
        if name in flow.nodes:
            document[name] = flow.nodes[name].text
    return document


def effective_fallback(draft: PollDraft, default_locale: str) -> str:
    """The chosen fallback language, else the program's default if the title has it, else the first written."""
    if draft.fallback in SUPPORTED_LOCALES:
        return draft.fallback
    if default_locale in draft.title or not draft.title:
        return default_locale
    return next(locale for locale in SUPPORTED_LOCALES if locale in draft.title)


def _ascii_value(label: str) -> str:
    plain = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    return "_".join(re.findall(r"[a-z0-9]+", plain.lower()))[:40]


def _assign_ids(draft: PollDraft, fallback: str) -> list[QuestionDraft]:
    """The questions to keep, with an id for each question and a value for each option (typed ones kept)."""
    kept = [q for q in draft.questions if not q.is_blank()]
    taken = {q.id for q in kept if q.id}
    for position, question in enumerate(kept, 1):
        number = position
        while not question.id:
            candidate = f"q{number}"
            if candidate not in taken:
                question.id = candidate
                taken.add(candidate)
            number += 1
        question.options = [o for o in question.options if not o.is_blank()]
        values = {o.value for o in question.options if o.value}
        for index, option in enumerate(question.options, 1):
            if option.value:
                continue
            label = option.label.get(fallback) or next(iter(option.label.values()), "")
            base = _ascii_value(label) or f"option_{index}"
            candidate, extra = base, 1
            while candidate in values:
                extra += 1
                candidate = f"{base}_{extra}"
            option.value = candidate
            values.add(candidate)
    return kept


def to_document(draft: PollDraft, default_locale: str) -> dict[str, Any]:
    """The poll document (the shape of the YAML poll files), with `fallback_language` for unwritten languages."""
    fallback = effective_fallback(draft, default_locale)
    questions = []
    for question in _assign_ids(copy.deepcopy(draft), fallback):
        item: dict[str, Any] = {"id": question.id, "kind": question.kind, "text": dict(question.text)}
        if question.optional:
            item["optional"] = True
        if question.kind in CHOICE_KINDS:
            item["options"] = [{"value": o.value, "label": dict(o.label)} for o in question.options]
            if question.kind != "single" and (most := plain_number(question.max_choices, 10)):
                item["max_choices"] = most
        questions.append(item)
    document: dict[str, Any] = {
        "kind": "poll",
        "spec_version": 1,
        "slug": draft.slug,
        "fallback_language": fallback,
        "title": dict(draft.title),
        "keywords": dict(draft.keywords),
        "questions": questions,
        "thanks": dict(draft.thanks),
    }
    if draft.intro:
        document["intro"] = dict(draft.intro)
    if draft.results_url:
        document["results_url"] = draft.results_url
    return document


def _carry_extras(document: dict[str, Any], previous: Mapping[str, Any] | None) -> None:
    """Keep what a YAML file set and the form does not show (a text answer's max_length, an option's words)."""
    if not previous:
        return
    before = {q.get("id"): q for q in previous.get("questions") or [] if isinstance(q, dict)}
    for question in document["questions"]:
        old = before.get(question["id"])
        if old is None or old.get("kind") != question["kind"]:
            continue
        if "max_length" in old:
            question["max_length"] = old["max_length"]
        words = {o.get("value"): o.get("words") for o in old.get("options") or [] if isinstance(o, dict)}
        for option in question.get("options", []):
            if words.get(option["value"]):
                option["words"] = words[option["value"]]


def save(
    session: Session, draft: PollDraft, default_locale: str, flows: FlowRegistry, clock: Clock
) -> tuple[Poll, int]:
    """Store the poll and compile a new version of its questions (residents mid-poll keep theirs)."""
    document = to_document(draft, default_locale)
    existing = session.scalars(select(Poll).where(Poll.slug == draft.slug)).first()
    _carry_extras(document, existing.document if existing is not None else None)
    poll, version = load_poll(session, document, flows, clock)
    poll.area_results = draft.area_results
    return poll, version
