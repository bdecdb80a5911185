"""Poll results: per question counts and percentages, per resident, overall and by language, area and channel."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import Flow
from bot.engagement.spreadsheet import safe_cell
from bot.store.engagement import Answer, Poll

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
            return label if isinstance(label, str) else label.get("en") or label.get("*") or value
    return value


def _count(flow: Flow, question: str, kind: str, answers: list[Answer]) -> list[OptionCount]:
    respondents = len(answers)
    counts: Counter[str] = Counter()
    points: Counter[str] = Counter()
    values: list[str]
    if kind == "ask-yes-no":
        values = ["yes", "no"]
    elif kind == "ask-rating":
        values = [str(n) for n in range(1, 6)]
    else:
        values = [c.value for c in flow.nodes[question].choices]
    for answer in answers:
        value = answer.value.get("value")
        if kind == "ask-yes-no":
            counts["yes" if value else "no"] += 1
        elif kind == "ask-ranking" and isinstance(value, list) and value:
            counts[str(value[0])] += 1
            for place, item in enumerate(value):
                points[str(item)] += len(values) - place
        elif isinstance(value, list):
            counts.update(str(v) for v in set(value))
        else:
            counts[str(value)] += 1
    return [
        OptionCount(
            v,
            _label(flow, question, v) if kind not in ("ask-rating", "ask-yes-no") else v,
            counts[v],
            round(100 * counts[v] / respondents, 1) if respondents else 0.0,
            points[v],
        )
        for v in values
    ]


def poll_results(session: Session, poll: Poll, flow: Flow) -> list[QuestionResult]:
    """Every question's results; answers skipped (None) do not count as respondents."""
    rows = session.scalars(select(Answer).where(Answer.poll_id == poll.id).order_by(Answer.id)).all()
    by_question: dict[str, list[Answer]] = defaultdict(list)
    for row in rows:
        if row.value.get("value") not in (None, [], ""):
            by_question[row.question].append(row)
    results = []
    for node in flow.nodes.values():
        if not node.question:
            continue
        answers = by_question.get(node.question, [])
        texts = node.text if isinstance(node.text, dict) else {}
        text = node.text if isinstance(node.text, str) else texts.get("en") or texts.get("*", "")
        result = QuestionResult(node.question, node.kind, str(text), len(answers))
        if node.kind == "ask-text":
            result.texts = [str(a.value.get("value")) for a in answers]
        else:
            result.options = _count(flow, node.question, node.kind, answers)
            for dimension in BREAKDOWNS:
                groups: dict[str, list[Answer]] = defaultdict(list)
                for answer in answers:
                    groups[str(getattr(answer, dimension) or "unknown")].append(answer)
                result.by[dimension] = {
                    key: _count(flow, node.question, node.kind, group) for key, group in sorted(groups.items())
                }
        if node.kind == "ask-rating" and answers:
            result.average = round(sum(int(a.value["value"]) for a in answers) / len(answers), 2)
        results.append(result)
    return results


def as_json(results: list[QuestionResult]) -> str:
    """Results as JSON."""
    return json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2)


def as_csv(results: list[QuestionResult]) -> str:
    """One row per question, breakdown and option: question, dimension, group, option, count, percent."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["question", "dimension", "group", "option", "count", "percent", "points"])
    for result in results:
        for option in result.options:
            writer.writerow([result.question, "all", "all", option.value, option.count, option.percent, option.points])
        for dimension, groups in result.by.items():
            for group, options in groups.items():
                for option in options:
                    writer.writerow(
                        [result.question, dimension, group, option.value, option.count, option.percent, option.points]
                    )
        for text in result.texts:
            writer.writerow([result.question, "text", "", safe_cell(text), "", "", ""])
    return out.getvalue()


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
