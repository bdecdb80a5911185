"""Poll results as residents and the public see them: in their language, per area or overall, no group under 5."""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from babel.numbers import format_percent
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import Flow, Node
from bot.engagement.areas import area_names
from bot.engagement.polls.tally import EMPTY_VALUES, add_answer, answer_rows, option_values
from bot.i18n.catalogs import Translator, _
from bot.i18n.formatting import babel_locale
from bot.i18n.negotiation import pick_text
from bot.store.engagement import Answer, Poll

T = TypeVar("T")
SMALLEST_GROUP = 5  # no count, percentage or breakdown of fewer residents is ever shown
COUNTED_KINDS = ("ask-choice", "ask-multi", "ask-ranking", "ask-yes-no", "ask-rating")
TOP_KINDS = ("ask-choice", "ask-multi", "ask-ranking")  # the choice questions whose top options residents are told


def groups_of_five(groups: Mapping[str, Sequence[T]], together: str) -> list[tuple[str, list[T]]]:
    """Groups of SMALLEST_GROUP or more by name, the largest first (then by name), and every smaller group counted
    as one under `together`, last: no group of fewer than 5 is told apart."""
    named = sorted(
        ((g, list(m)) for g, m in groups.items() if len(m) >= SMALLEST_GROUP), key=lambda x: (-len(x[1]), x[0])
    )
    small = [member for members in groups.values() if len(members) < SMALLEST_GROUP for member in members]
    return named + ([(together, small)] if small else [])


EXCLUSIVE_KINDS = ("ask-choice", "ask-ranking", "ask-yes-no", "ask-rating")  # one option per respondent
YES, NO = _("Yes"), _("No")
MAX_TOP = 2


def sms_spaces(text: str) -> str:
    """Every space character but U+0020 (no-break, narrow no-break...) as a plain space."""
    return "".join(" " if ch != " " and unicodedata.category(ch) == "Zs" else ch for ch in text)


def percent(share: float, locale: str) -> str:
    """A share (0.42) as the locale writes a percentage ("42%", "42 %"), with plain spaces."""
    return sms_spaces(format_percent(share, locale=babel_locale(locale)))


@dataclass
class Tally:
    """One question's answers: how many answered and how many chose each option (rankings: first place)."""

    node: Node
    respondents: int = 0
    counts: Counter[str] = field(default_factory=Counter)


def _add(tally: Tally, value: Any, times: int = 1) -> None:
    tally.respondents += times
    add_answer(tally.counts, tally.node.kind, value, times)


def label(node: Node, value: str, locale: str) -> str:
    """An option's label in the locale (yes/no translated; ratings are their number)."""
    if node.kind == "ask-yes-no":
        word = YES if value == "yes" else NO
        return Translator(locale).gettext(word)
    for choice in node.choices:
        if choice.value == value:
            return pick_text(choice.label, locale)
    return value


@dataclass
class PollAnswers:
    """A poll's answers, tallied overall and per area, and each respondent's area."""

    poll: Poll
    flow: Flow
    overall: dict[str, Tally]
    by_area: dict[str, dict[str, Tally]]
    area_of: dict[int, str | None]
    area_sizes: Counter[str]
    area_names: dict[str, dict[str, str]] = field(default_factory=dict)  # an area's name -> its name per language

    def area_in(self, area: str, locale: str) -> str:
        """An area as a resident of that language reads it: the program's name for it there, else as filed."""
        return pick_text(self.area_names.get(area) or {}, locale) or area

    @property
    def respondents(self) -> int:
        """Residents who answered at least one question."""
        return len(self.area_of)


def tally_poll(session: Session, poll: Poll, flow: Flow) -> PollAnswers:
    """Count every counted question's answers once, overall and by the area residents gave."""
    questions = {node.question: node for node in flow.nodes.values() if node.question and node.kind in COUNTED_KINDS}
    rows, values = answer_rows(session, poll, Answer.resident_id, Answer.question, Answer.area)
    empty = {raw for raw, value in values.items() if value in EMPTY_VALUES}
    area_of: dict[int, str | None] = {}
    # (question, area, stored JSON) -> how many: the same few choices repeat, so each is added once with its count.
    combined: Counter[tuple[str, str | None, str | None]] = Counter()
    for raw, resident_id, question, area in rows:
        if raw in empty:
            continue
        if area_of.get(resident_id) is None:
            area_of[resident_id] = area
        if question in questions:
            combined[question, area, raw] += 1
    overall = {q: Tally(node) for q, node in questions.items()}
    by_area: dict[str, dict[str, Tally]] = defaultdict(dict)
    for (question, area, raw), times in combined.items():
        node = questions[question]
        _add(overall[question], values[raw], times)
        if area:
            tally = by_area[area].get(question)
            if tally is None:
                tally = by_area[area][question] = Tally(node)
            _add(tally, values[raw], times)
    sizes = Counter(area for area in area_of.values() if area)
    return PollAnswers(poll, flow, overall, dict(by_area), area_of, sizes, area_names(session))


def _top(tally: Tally, locale: str) -> str:
    """The most chosen option(s) of a question with their percentage ("Clinics close to home 42%")."""
    if not tally.respondents or not tally.counts:
        return ""
    best = max(tally.counts.values())
    if best <= 0:
        return ""
    tops = [value for value in option_values(tally.node) if tally.counts[value] == best][:MAX_TOP]
    share = percent(best / tally.respondents, locale)
    return " / ".join(label(tally.node, value, locale) for value in tops) + f" {share}"


AREA_RESULTS = _("{poll}, results in {area}: {results}")
OVERALL_RESULTS = _("{poll}, results: {results}")


def results_line(answers: PollAnswers, resident_id: int, locale: str) -> str:
    """What one respondent is told of a poll: the top options in their own area when at least 5 residents of that
    area answered, otherwise overall (when at least 5 answered); "" when nothing may be shown."""
    area = answers.area_of.get(resident_id)
    poll_title = pick_text(answers.poll.title, locale)
    if area and answers.area_sizes[area] >= SMALLEST_GROUP:
        parts = _tops(answers.by_area.get(area, {}), locale)
        if parts:
            where = answers.area_in(area, locale)
            return Translator(locale).gettext(AREA_RESULTS, poll=poll_title, area=where, results="; ".join(parts))
    if answers.respondents < SMALLEST_GROUP:
        return ""
    parts = _tops(answers.overall, locale)
    return Translator(locale).gettext(OVERALL_RESULTS, poll=poll_title, results="; ".join(parts)) if parts else ""


def _tops(tallies: dict[str, Tally], locale: str) -> list[str]:
    parts = [
        _top(tally, locale)
        for tally in tallies.values()
        if tally.node.kind in TOP_KINDS and tally.respondents >= SMALLEST_GROUP
    ]
    return list(dict.fromkeys(part for part in parts if part))  # a ranking often repeats the choice question


@dataclass(frozen=True)
class PublicOption:
    """One option on the public page: its label and percentage (text, and 0-100 for a bar), or None when hidden
    (small: fewer than 5 chose it; otherwise hidden so that a smaller group cannot be worked out by subtraction)."""

    label: str
    percent: str | None
    share: float | None = None
    small: bool = False


@dataclass(frozen=True)
class PublicQuestion:
    """One question's aggregate results on the public page."""

    text: str
    respondents: int
    options: tuple[PublicOption, ...]


def _suppressed(tally: Tally, values: list[str]) -> set[str]:
    """Options hidden on the public page: fewer than 5 residents; and, where options exclude each other, one more
    option when the hidden ones add up to fewer than 5 (so no small group can be worked out by subtraction)."""
    hidden = {value for value in values if tally.counts[value] < SMALLEST_GROUP}
    if tally.node.kind in EXCLUSIVE_KINDS:
        hidden_total = sum(tally.counts[value] for value in hidden)
        shown = sorted((tally.counts[value], value) for value in values if value not in hidden)
        if 0 < hidden_total < SMALLEST_GROUP and shown:
            hidden.add(shown[0][1])
    return hidden


def public_results(answers: PollAnswers, locale: str) -> list[PublicQuestion]:
    """A poll's aggregate results for everyone: nothing at all under 5 respondents, no option chosen by fewer than
    5 residents, no breakdown, no free text."""
    if answers.respondents < SMALLEST_GROUP:
        return []
    questions = []
    for tally in answers.overall.values():
        if tally.respondents < SMALLEST_GROUP:
            continue
        values = option_values(tally.node)
        hidden = _suppressed(tally, values)
        ordered = sorted(values, key=lambda v: (v in hidden, -tally.counts[v] if v not in hidden else 0))
        options = tuple(
            PublicOption(label(tally.node, value, locale), None, None, tally.counts[value] < SMALLEST_GROUP)
            if value in hidden
            else PublicOption(
                label(tally.node, value, locale),
                percent(tally.counts[value] / tally.respondents, locale),
                round(100 * tally.counts[value] / tally.respondents, 1),
            )
            for value in ordered
        )
        questions.append(PublicQuestion(pick_text(tally.node.text, locale), tally.respondents, options))
    return questions
