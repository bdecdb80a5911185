"""Checks of a poll written in the dashboard, all at once: texts in every language (or a fallback), questions,
options, keywords, the slug; and which translations are missing, by place and by language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import FlowError
from bot.conversation.opt_out import StopRequest, read_keyword
from bot.conversation.text import fold
from bot.engagement.forms import Missing, language_name, naming_problems
from bot.engagement.polls.definition import QUESTION_KINDS, compile_poll, results_url_problem
from bot.engagement.polls.editor import (
    CHOICE_KINDS,
    IDENTIFIER,
    PollDraft,
    effective_fallback,
    given_texts,
    to_document,
)
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.ids import plain_number
from bot.store.engagement import Poll


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
        given = given_texts(raw)
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
    lacking = [
        where for where, raw in _places(to_document(draft, fallback)) if raw and fallback not in given_texts(raw)
    ]
    if lacking:
        problems.append(
            f"Write these in {language_name(fallback)}, the fallback language that residents without a text "
            f"of their own read, or choose another fallback: {', '.join(lacking)}."
        )
    return problems


def _check_questions(draft: PollDraft) -> list[str]:  # noqa: PLR0912  # each check its own message
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
        if question.max_choices and not (plain_number(question.max_choices, 10) or 0) >= 1:
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
        if read_keyword(word) != (None, StopRequest.NONE):
            problems.append(f"The keyword {word!r} ({language_name(locale)}) is a word the bot already answers.")
        elif fold(word) in others:
            problems.append(f"The keyword {word!r} ({language_name(locale)}) is used by poll {others[fold(word)]}.")
        elif not fold(word):
            problems.append(f"The keyword for {language_name(locale)} needs letters or digits.")
    return problems


def check(session: Session, draft: PollDraft, default_locale: str, *, new: bool) -> list[str]:
    """Everything wrong with the draft, each said so staff can fix it (empty when it can be saved)."""
    problems = naming_problems(session, draft.slug, draft.fallback, Poll.slug, "A poll", new=new)
    link_problem = results_url_problem(draft.results_url)
    if link_problem:
        problems.append(f"{link_problem[0].upper()}{link_problem[1:]}.")
    problems += _check_texts(draft, effective_fallback(draft, default_locale))
    problems += _check_questions(draft)
    problems += _check_keywords(session, draft)
    if not problems:
        try:
            compile_poll(to_document(draft, default_locale))
        except FlowError as exc:  # a last line of defence: the compiler's own words
            problems.append(str(exc))
    return problems
