"""Poll results: per question counts and percentages, per resident, overall and by language, area and channel."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import Flow, Node
from bot.i18n.negotiation import pick_text
from bot.staff.spreadsheet import csv_text
from bot.store.engagement import Answer, Poll
from bot.store.prepared import Prepared

BREAKDOWNS = ("locale", "area", "channel")


@dataclass
class OptionCount:
    """How many residents chose an option (for rankings: ranked it first; points add up every place)."""

    value: str
    label: str
    count: int
    percent: float
    points: int = 0


@dataclass
class QuestionResult:
    """One question's results."""

    question: str
    kind: str
    text: str
    respondents: int
    options: list[OptionCount] = field(default_factory=list)
    average: float | None = None
    texts: list[str] = field(default_factory=list)
    by: dict[str, dict[str, list[OptionCount]]] = field(default_factory=dict)


def _label(flow: Flow, question: str, value: str) -> str:
    node = flow.nodes[question]
    for choice in node.choices:
        if choice.value == value:
            label = choice.label
            return pick_text(label, "en") or value
    return value


def option_label(flow: Flow, question: str, value: str, kind: str) -> str:
    """How staff read an option: its English label (a rating or yes/no as it is)."""
    return _label(flow, question, value) if kind not in ("ask-rating", "ask-yes-no") else value


def question_text(node: Node) -> str:
    """How staff read a question: its English text."""
    return pick_text(node.text, "en") if node.text is not None else node.id


Weighted = list[tuple[Any, int]]  # (an answer's value, how many residents gave exactly that value)
Sizes = dict[str, dict[str, dict[str, int]]]  # question -> dimension -> group -> respondents
Texts = dict[str, list[str]]  # question -> its own-words answers
EMPTY_VALUES: tuple[object, ...] = (None, [], "")


def _stored_value(raw: str | None) -> Any:
    stored = json.loads(raw) if raw is not None else None
    return stored.get("value") if isinstance(stored, dict) else None


def answer_rows(session: Session, poll: Poll, *columns: Any) -> tuple[list[tuple[Any, ...]], dict[str | None, Any]]:
    """Every answer of the poll, oldest first, as (stored JSON text, *columns); and the "value" of each distinct
    JSON text. Most answers repeat a handful of choices: decoding each text once (rather than building an ORM
    object and decoding JSON for every row) was most of the cost of a large poll."""
    query = select(cast(Answer.value, Text), *columns).where(Answer.poll_id == poll.id).order_by(Answer.id)
    # Through the Core connection (plain columns need no ORM loading), as plain tuples (they hash and compare far
    # faster than rows).
    rows = [tuple(row) for row in session.connection().execute(query)]
    return rows, {raw: _stored_value(raw) for raw in {row[0] for row in rows}}


def option_values(node: Node) -> list[str]:
    """The options a counted question is tallied over: yes and no, the ratings 1-5, or its choices' values."""
    if node.kind == "ask-yes-no":
        return ["yes", "no"]
    if node.kind == "ask-rating":
        return [str(n) for n in range(1, 6)]
    return [choice.value for choice in node.choices]


def add_answer(counts: Counter[str], kind: str, value: Any, times: int = 1) -> None:
    """The one counting rule: yes/no by its truth, a ranking by its first choice, several choices once each,
    anything else by its value."""
    if kind == "ask-yes-no":
        counts["yes" if value else "no"] += times
    elif kind == "ask-ranking" and isinstance(value, list) and value:
        counts[str(value[0])] += times
    elif isinstance(value, list):
        for chosen in set(value):
            counts[str(chosen)] += times
    else:
        counts[str(value)] += times


def _count(flow: Flow, question: str, kind: str, answers: Weighted) -> list[OptionCount]:
    respondents = sum(times for _value, times in answers)
    counts: Counter[str] = Counter()
    points: Counter[str] = Counter()
    values = option_values(flow.nodes[question])
    for value, times in answers:
        add_answer(counts, kind, value, times)
        if kind == "ask-ranking" and isinstance(value, list):
            for place, item in enumerate(value):
                points[str(item)] += (len(values) - place) * times
    found = [
        OptionCount(
            v,
            option_label(flow, question, v, kind),
            counts[v],
            round(100 * counts[v] / respondents, 1) if respondents else 0.0,
            points[v],
        )
        for v in values
    ]
    # A ranking reads by its points (a Borda count: with N options, first place is worth N, the last 1), most first.
    return sorted(found, key=lambda option: -option.points) if kind == "ask-ranking" else found


_ANSWERS = Prepared(
    select(cast(Answer.value, Text), Answer.question, Answer.locale, Answer.area, Answer.channel)
    .where(Answer.poll_id == bindparam("poll_id"))
    .order_by(Answer.id)
)


def _counted(session: Session, poll: Poll, flow: Flow) -> tuple[list[tuple[Any, ...]], dict[str | None, Any], Texts]:
    """The poll's answers read once, as a stream straight from the driver: each distinct (stored JSON text,
    question, language, area, channel) with how many gave it, the "value" of each distinct JSON text, and the own
    words of each ask-text question, oldest first. Holding every answer of a 58,000-answer poll at once cost the
    dashboard ~13 MB."""
    asked = {node.question for node in flow.nodes.values() if node.question and node.kind == "ask-text"}
    texts: Texts = defaultdict(list)
    values: dict[str | None, Any] = {}  # each stored JSON text decoded once
    rows = _ANSWERS.stream(session, {"poll_id": poll.id})

    def keeping_texts() -> Iterator[tuple[Any, ...]]:
        for row in rows:
            if row[1] in asked:
                value = values[row[0]] = _stored_value(row[0])
                if value not in EMPTY_VALUES:
                    texts[row[1]].append(str(value))
            yield row

    counted = Counter(keeping_texts() if asked else rows)
    for raw, *_ in counted:
        if raw not in values:
            values[raw] = _stored_value(raw)
    return [(*combination, times) for combination, times in counted.items()], values, texts


def results_and_sizes(session: Session, poll: Poll, flow: Flow) -> tuple[list[QuestionResult], Sizes]:
    """Every question's results, and how many answered in each group of each breakdown (every question), from one
    read of the answers; answers skipped (None) do not count as respondents."""
    rows, values, texts = _counted(session, poll, flow)
    empty = {raw for raw, value in values.items() if value in EMPTY_VALUES}
    overall: dict[str, Counter[str | None]] = defaultdict(Counter)
    grouped: dict[str, dict[str, dict[str, Counter[str | None]]]] = defaultdict(
        lambda: {dimension: defaultdict(Counter) for dimension in BREAKDOWNS}
    )
    for raw, question, *groups, times in rows:
        if raw in empty:
            continue
        overall[question][raw] += times
        for dimension, group in zip(BREAKDOWNS, groups, strict=True):
            grouped[question][dimension][str(group or "unknown")][raw] += times
    sizes: Sizes = {
        question: {dimension: {g: c.total() for g, c in by.items()} for dimension, by in dimensions.items()}
        for question, dimensions in grouped.items()
    }
    results = []
    for node in flow.nodes.values():
        if not node.question:
            continue
        counted = overall.get(node.question, Counter())
        weighted = [(values[raw], times) for raw, times in counted.items()]
        result = QuestionResult(node.question, node.kind, question_text(node), counted.total())
        if node.kind == "ask-text":
            result.texts = texts.get(node.question, [])
        else:
            result.options = _count(flow, node.question, node.kind, weighted)
            for dimension in BREAKDOWNS:
                by_group = grouped[node.question][dimension] if node.question in grouped else {}
                result.by[dimension] = {
                    key: _count(flow, node.question, node.kind, [(values[raw], n) for raw, n in group.items()])
                    for key, group in sorted(by_group.items())
                }
        if node.kind == "ask-rating" and weighted:
            result.average = round(sum(int(value) * times for value, times in weighted) / counted.total(), 2)
        results.append(result)
    return results, sizes


def poll_results(session: Session, poll: Poll, flow: Flow) -> list[QuestionResult]:
    """Every question's results; answers skipped (None) do not count as respondents."""
    return results_and_sizes(session, poll, flow)[0]


def as_json(results: list[QuestionResult]) -> str:
    """Results as JSON."""
    return json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2)


def as_csv(results: list[QuestionResult]) -> str:
    """One row per question, breakdown and option: question, dimension, group, option, count, percent."""
    rows: list[list[Any]] = []
    for result in results:
        for option in result.options:
            rows.append([result.question, "all", "all", option.value, option.count, option.percent, option.points])
        for dimension, groups in result.by.items():
            for group, options in groups.items():
                rows.extend(
                    [result.question, dimension, group, option.value, option.count, option.percent, option.points]
                    for option in options
                )
        rows.extend([result.question, "text", "", text, "", "", ""] for text in result.texts)
    return csv_text(["question", "dimension", "group", "option", "count", "percent", "points"], rows)


def as_table(results: list[QuestionResult]) -> str:
    """A plain-text table for the terminal."""
    lines: list[str] = []
    for result in results:
        noun = "respondent" if result.respondents == 1 else "respondents"
        lines.append(f"{result.question} ({result.kind.removeprefix('ask-')}): {result.respondents} {noun}")
        lines.append(f"  {result.text}")
        for option in result.options:
            extra = f"  {option.points} pts" if result.kind == "ask-ranking" else ""
            lines.append(f"  {option.label[:40]:<40} {option.count:>6} {option.percent:>6.1f}%{extra}")
        if result.average is not None:
            lines.append(f"  average {result.average}")
        for dimension, groups in result.by.items():
            parts = [
                f"{group}: " + ", ".join(f"{o.value}={o.count}" for o in options if o.count)
                for group, options in groups.items()
            ]
            lines.append(f"  by {dimension}: " + "; ".join(parts))
        lines.extend(f"  - {text}" for text in result.texts)
        lines.append("")
    return "\n".join(lines)


def summary(results: list[QuestionResult]) -> dict[str, Any]:
    """Respondents per question, for quick checks."""
    return {r.question: r.respondents for r in results}
