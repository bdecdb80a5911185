"""Poll authoring for the dashboard: form fields <-> a poll document, missing translations, checks, saving."""

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
from bot.conversation.flows.schema import Flow, FlowError
from bot.conversation.keywords import match_keyword
from bot.conversation.text import fold
from bot.engagement.polls.definition import QUESTION_KINDS, compile_poll, load_poll
from bot.i18n.negotiation import NATIVE_NAMES, SUPPORTED_LOCALES, pick_text, text_direction
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
MAX_TEXT = 1600
SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")
IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,64}")
RESERVED_SLUGS = frozenset({"new"})
Texts = dict[str, str]
# The languages a form offers: code, name in its own script, writing direction.
LANGUAGES = [(locale, NATIVE_NAMES[locale], text_direction(locale)) for locale in SUPPORTED_LOCALES]


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


@dataclass(frozen=True)
class Missing:
    """A text not written in some languages: where it is and which languages lack it."""

    where: str
    languages: tuple[str, ...]


def language_name(locale: str) -> str:
    """A language as staff read it: its own name and code ("Tiếng Việt (vi)")."""
    return f"{NATIVE_NAMES.get(locale, locale)} ({locale})"


LANGUAGE_NAMES = {locale: language_name(locale) for locale in SUPPORTED_LOCALES}


def text_for(texts: Mapping[str, Any] | None, locale: str) -> str:
    """One text of a per-language mapping for staff: that language's, else every language's ("*"), else any."""
    return pick_text(texts, locale)


def _field(form: Mapping[str, Any], name: str, limit: int = MAX_TEXT) -> str:
    value = form.get(name)
    return str(value).strip()[:limit] if value is not None else ""


def _texts(form: Mapping[str, Any], prefix: str, limit: int = MAX_TEXT) -> Texts:
    found = {locale: _field(form, f"{prefix}.{locale}", limit) for locale in SUPPORTED_LOCALES}
    return {locale: text for locale, text in found.items() if text}


def _count(form: Mapping[str, Any], name: str, default: int, most: int) -> int:
    raw = _field(form, name, 4)
    return max(0, min(int(raw), most)) if raw.isdigit() else default


def draft_from_form(form: Mapping[str, Any]) -> PollDraft:
    """Read the poll form (names like `title.es`, `q0.kind`, `q0.text.en`, `q0.o1.label.fr`); nothing is lost."""
    draft = PollDraft(
        slug=_field(form, "slug", 64).lower(),
        fallback=_field(form, "fallback", 16),
        area_results=bool(form.get("area_results")),
        results_url=_field(form, "results_url", 300),
        title=_texts(form, "title", 200),
        intro=_texts(form, "intro"),
        thanks=_texts(form, "thanks"),
        keywords=_texts(form, "keyword", 40),
        questions=[],
    )
    for q in range(_count(form, "question_count", 1, MAX_QUESTIONS)):
        prefix = f"q{q}"
        options = [
            OptionDraft(_field(form, f"{prefix}.o{o}.value", 64), _texts(form, f"{prefix}.o{o}.label", 200))
            for o in range(_count(form, f"{prefix}.option_count", 2, MAX_OPTIONS))
        ]
        draft.questions.append(
            QuestionDraft(
                id=_field(form, f"{prefix}.id", 64),
                kind=_field(form, f"{prefix}.kind", 16) or "single",
                optional=bool(form.get(f"{prefix}.optional")),
                max_choices=_field(form, f"{prefix}.max_choices", 4),
                text=_texts(form, f"{prefix}.text"),
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
    name, _, index = action.partition(":")
    if name == "add_option" and index.isdigit() and int(index) < len(draft.questions):
        question = draft.questions[int(index)]
        if len(question.options) < MAX_OPTIONS:
            question.options.append(OptionDraft())
        return True
    return False


def _given(raw: Any) -> Texts:
    """The languages a document's text was written in ("*" stands for every language)."""
    if isinstance(raw, str) and raw.strip():
        return {"*": raw}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items() if isinstance(v, str) and v.strip()}
    return {}


def _written(raw: Any) -> Texts:
    """A document's text as the form shows it: every language written (a "*" text fills the others)."""
    texts = _given(raw)
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
            if question.kind != "single" and question.max_choices.isdigit():
                item["max_choices"] = int(question.max_choices)
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


def _places(document: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Every text of a poll document, named as staff read it."""
    places: list[tuple[str, Any]] = [("Title", document.get("title"))]
    if document.get("intro"):
        places.append(("Introduction", document.get("intro")))
    for number, question in enumerate(document.get("questions") or [], 1):
        if not isinstance(question, dict):
            continue
        name = f"Question {number} ({question.get('id', '')})"
        places.append((name, question.get("text")))
        for option in question.get("options") or []:
            if isinstance(option, dict):
                places.append((f"{name}, option {option.get('value', '')!s}", option.get("label")))
    places.append(("Thank-you message", document.get("thanks")))
    return places


def missing_translations(document: Mapping[str, Any]) -> list[Missing]:
    """Each text and the languages it was not written in (they will get the fallback language's text)."""
    found = []
    for where, raw in _places(document):
        given = _given(raw)
        if not given or "*" in given:  # nothing written yet is a problem of its own, not a translation
            continue
        absent = tuple(locale for locale in SUPPORTED_LOCALES if locale not in given)
        if absent:
            found.append(Missing(where, absent))
    return found


def missing_by_language(missing: list[Missing]) -> dict[str, list[str]]:
    """For each language, the texts its residents will read in the fallback language."""
    found: dict[str, list[str]] = {}
    for item in missing:
        for locale in item.languages:
            found.setdefault(locale, []).append(item.where)
    return {locale: found[locale] for locale in SUPPORTED_LOCALES if locale in found}


def _check_texts(draft: PollDraft, fallback: str) -> list[str]:
    problems = []
    if not draft.title:
        problems.append("Give the poll a title in at least one language.")
    if not draft.thanks:
        problems.append("Write the thank-you message residents get after the last question.")
    lacking = [where for where, raw in _places(to_document(draft, fallback)) if raw and fallback not in _given(raw)]
    if lacking:
        problems.append(
            f"Write these in {language_name(fallback)}, the fallback language that residents without a text "
            f"of their own read, or choose another fallback: {', '.join(lacking)}."
        )
    return problems


def _check_questions(draft: PollDraft) -> list[str]:
    problems = []
    kept = [q for q in draft.questions if not q.is_blank()]
    if not kept:
        problems.append("Add at least one question.")
    ids = [q.id for q in kept if q.id]
    for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"Two questions have the id {duplicate!r}: ids must differ.")
    for number, question in enumerate(draft.questions, 1):
        if question.is_blank():
            continue
        name = f"Question {number}"
        if question.id and not IDENTIFIER.fullmatch(question.id):
            problems.append(f"{name}: the id may use only letters, digits and _.")
        if question.kind not in QUESTION_KINDS:
            problems.append(f"{name}: choose a kind of question.")
        if not question.text:
            problems.append(f"{name}: write the question.")
        if question.max_choices and (not question.max_choices.isdigit() or not 1 <= int(question.max_choices) <= 10):
            problems.append(f"{name}: the most choices must be a whole number from 1 to 10.")
        if question.kind not in CHOICE_KINDS:
            continue
        options = [o for o in question.options if not o.is_blank()]
        if len(options) < 2:
            problems.append(f"{name}: give at least two options.")
        values = [o.value for o in options if o.value]
        if len(set(values)) != len(values):
            problems.append(f"{name}: two options have the same value.")
        for index, option in enumerate(options, 1):
            if not option.label:
                problems.append(f"{name}, option {index}: write the option.")
            if option.value and (not IDENTIFIER.fullmatch(option.value.replace("-", "_"))):
                problems.append(f"{name}, option {index}: the value may use only letters, digits, - and _.")
    return problems


def _check_keywords(session: Session, draft: PollDraft) -> list[str]:
    problems = []
    others = {
        fold(str(word)): poll.slug
        for poll in session.scalars(select(Poll).where(Poll.slug != draft.slug))
        for word in (poll.keywords or {}).values()
    }
    for locale, word in draft.keywords.items():
        if match_keyword(word) is not None:
            problems.append(f"The keyword {word!r} ({language_name(locale)}) is a word the bot already answers.")
        elif fold(word) in others:
            problems.append(f"The keyword {word!r} ({language_name(locale)}) is used by poll {others[fold(word)]}.")
        elif not fold(word):
            problems.append(f"The keyword for {language_name(locale)} needs letters or digits.")
    return problems


def check(session: Session, draft: PollDraft, default_locale: str, *, new: bool) -> list[str]:
    """Everything wrong with the draft, each said so staff can fix it (empty when it can be saved)."""
    problems = []
    if not SLUG.fullmatch(draft.slug) or draft.slug in RESERVED_SLUGS:
        problems.append("The short name must be 1 to 50 lower-case letters, digits, - or _ (and not 'new').")
    elif new and session.scalars(select(Poll.id).where(Poll.slug == draft.slug)).first() is not None:
        problems.append(f"A poll named {draft.slug!r} already exists: choose another short name.")
    if draft.fallback and draft.fallback not in SUPPORTED_LOCALES:
        problems.append("Choose a fallback language from the list.")
    if draft.results_url and not re.fullmatch(r"https?://\S+", draft.results_url):
        problems.append("The results link must start with https:// or http://.")
    problems += _check_texts(draft, effective_fallback(draft, default_locale))
    problems += _check_questions(draft)
    problems += _check_keywords(session, draft)
    if not problems:
        try:
            compile_poll(to_document(draft, default_locale))
        except FlowError as exc:  # a last line of defence: the compiler's own words
            problems.append(str(exc))
    return problems


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
