"""Weighted results: a poll's respondents raked to the population baseline's margins (iterative proportional fitting,
numpy only) over the dimensions staff choose, weights capped, with the effective sample size and design
effect, and every group too small to weight said plainly."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bot.conversation.flows.schema import Flow
from bot.engagement.polls import tally
from bot.engagement.polls.public_results import SMALLEST_GROUP
from bot.engagement.remembered import inputs, remembered
from bot.engagement.representation import DIMENSIONS, baseline_margins, respondent_groups
from bot.staff.spreadsheet import csv_text
from bot.store.engagement import Answer, Poll

if TYPE_CHECKING:
    import numpy as np

CAP = 5.0  # no respondent counts for more than 5 times the average respondent
TRIM_ROUNDS = 20  # rake, trim to the cap, rake again... until both hold
FIT_ROUNDS, FIT_TOLERANCE = 1000, 1e-10
NOT_WEIGHTED = "(not weighted)"  # the groups too small to weight, kept together at their share of respondents


@dataclass(frozen=True)
class Margin:
    """One group of one dimension: its share of respondents, raw and weighted, against the population's."""

    dimension: str
    group: str
    respondents: int
    share: float
    weighted_share: float
    population_share: float | None


@dataclass(frozen=True)
class Weighting:
    """The weights of a poll's respondents (mean 1) over the dimensions used, what they cost and what they left out."""

    dimensions: list[str]
    weights: dict[int, float]
    effective_size: float
    design_effect: float
    largest: float
    margins: list[Margin] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class WeightedOption:
    """An option's share of a question's respondents, raw and weighted (percent)."""

    value: str
    label: str
    percent: float
    weighted: float


@dataclass(frozen=True)
class WeightedQuestion:
    """One counted question with its options raw and weighted."""

    question: str
    text: str
    respondents: int
    options: list[WeightedOption]


def weightable(session: Session, poll: Poll) -> list[str]:
    """The dimensions a poll can be weighted over: those the baseline names, in the report's order."""
    margins = baseline_margins(session)
    return [d for d in [*DIMENSIONS, *sorted(set(margins) - set(DIMENSIONS))] if d in margins]


def chosen_dimensions(session: Session, poll: Poll) -> list[str]:
    """The dimensions staff chose for the poll (those still in the baseline), or every one the baseline names."""
    available = weightable(session, poll)
    chosen = [d for d in (poll.weight_by or {}).get("dimensions", []) if d in available]
    return chosen or available


def weigh(
    session: Session,
    poll: Poll,
    dimensions: Sequence[str] | None = None,
    groups: Mapping[int, Mapping[str, str]] | None = None,
) -> Weighting:
    """Rake the poll's respondents to the baseline over the dimensions (by default, those chosen for the poll); the
    respondents' groups may be given when they were read already (for the representation report)."""
    used = list(dimensions) if dimensions is not None else chosen_dimensions(session, poll)
    found = groups if groups is not None else respondent_groups(session, poll)
    return rake(found, baseline_margins(session), used)


def rake(
    groups: Mapping[int, Mapping[str, str]], population: Mapping[str, Counter[str]], dimensions: Sequence[str]
) -> Weighting:
    """Weights for respondents (their group in each dimension) so that their shares match the population's in every
    dimension at once; a group of fewer than 5 respondents is not weighted but kept at its share of respondents."""
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)

    people = list(groups)
    if not people:
        return Weighting([], {}, 0.0, 1.0, 1.0, [], ["No one has answered yet: nothing to weight."])
    notes: list[str] = []
    axes: list[tuple[str, list[str], np.ndarray[Any, Any]]] = []
    for dimension in dimensions:
        axis = _axis(dimension, [groups[p].get(dimension) or "not known" for p in people], population, notes)
        if axis is not None:
            axes.append((dimension, *axis))
    if not axes:
        weights = dict.fromkeys(people, 1.0)
        return Weighting([], weights, float(len(people)), 1.0, 1.0, [], notes or ["No dimension can be weighted."])
    cells = [tuple(_place(groups[p].get(d) or "not known", labels) for d, labels, _ in axes) for p in people]
    observed = np.zeros([len(labels) for _, labels, _ in axes])
    for cell in cells:
        observed[cell] += 1
    cell_weights = _raked(observed, [targets for _, _, targets in axes], notes)
    weights = {p: float(cell_weights[cell]) for p, cell in zip(people, cells, strict=True)}
    return _summary([d for d, _, _ in axes], weights, groups, population, notes)


def _axis(
    dimension: str, found: list[str], population: Mapping[str, Counter[str]], notes: list[str]
) -> tuple[list[str], np.ndarray[Any, Any]] | None:
    """A dimension's groups to weight and their targets (respondents), the rest kept together at their share."""
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)

    counts, margin = Counter(found), population.get(dimension, Counter())
    kept = [g for g in sorted(margin) if counts[g] >= SMALLEST_GROUP and margin[g] > 0]
    for group in sorted(set(margin) - set(kept)):
        notes.append(
            f"{dimension} {group}: {counts[group]} respondent{'' if counts[group] == 1 else 's'}, fewer than "
            f"{SMALLEST_GROUP} — too few to weight, kept at its share of respondents."
        )
    if len(kept) < 2:
        notes.append(f"{dimension}: fewer than two groups with {SMALLEST_GROUP} or more respondents — not weighted.")
        return None
    rest = sum(n for g, n in counts.items() if g not in kept)
    total, people = sum(margin[g] for g in kept), len(found)
    targets = [(people - rest) * margin[g] / total for g in kept]
    labels = kept + ([NOT_WEIGHTED] if rest else [])
    return labels, np.array(targets + ([float(rest)] if rest else []))


def _place(group: str, labels: list[str]) -> int:
    """Where a respondent's group is on its dimension's axis (a group too small to weight: with the rest)."""
    return labels.index(group if group in labels else NOT_WEIGHTED)


def _raked(observed: np.ndarray[Any, Any], targets: list[np.ndarray[Any, Any]], notes: list[str]) -> Any:
    """Each cell's weight: raked, trimmed to CAP times the mean, raked again, until both hold (the cap last)."""
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)

    seed, weights = observed.copy(), np.ones_like(observed)
    present = observed > 0
    for _round in range(TRIM_ROUNDS):
        fitted = _fit(seed, targets)
        weights = np.where(present, fitted / np.where(present, observed, 1.0), 0.0)
        if weights.max() <= CAP * (1 + 1e-9):
            return weights
        weights = np.minimum(weights, CAP)
        seed = observed * weights
    notes.append(f"Weights were capped at {CAP:g} times the average: the weighted shares come close to the baseline's.")
    return weights


def _fit(seed: np.ndarray[Any, Any], targets: list[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """Iterative proportional fitting: the table scaled to each dimension's margin in turn, over and over, until
    every margin holds (to a ten-billionth of the total) or a thousand rounds have passed. Cells with no
    respondent stay empty."""
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)

    table = seed.astype(float)
    scale = max(float(table.sum()), 1.0)
    others = [tuple(a for a in range(table.ndim) if a != axis) for axis in range(table.ndim)]
    for _ in range(FIT_ROUNDS):
        for axis, target in enumerate(targets):
            current = table.sum(axis=others[axis])
            factor = np.divide(target, current, out=np.zeros_like(current), where=current > 0)
            table *= factor.reshape([-1 if a == axis else 1 for a in range(table.ndim)])
        worst = max(float(np.abs(table.sum(axis=others[a]) - t).max()) for a, t in enumerate(targets))
        if worst <= FIT_TOLERANCE * scale:
            break
    return table


def _summary(
    used: list[str],
    weights: dict[int, float],
    groups: Mapping[int, Mapping[str, str]],
    population: Mapping[str, Counter[str]],
    notes: list[str],
) -> Weighting:
    import numpy as np  # noqa: PLC0415 (loaded when first needed: 15 MB a process)

    values = np.array(list(weights.values()))
    total, squares = float(values.sum()), float((values**2).sum())
    effective = total * total / squares if squares else 0.0
    margins = []
    for dimension in used:
        raw: Counter[str] = Counter()
        weighted: dict[str, float] = {}
        for person, weight in weights.items():
            group = groups[person].get(dimension) or "not known"
            raw[group] += 1
            weighted[group] = weighted.get(group, 0.0) + weight
        people = sum(population[dimension].values())
        for group in sorted(set(raw) | set(population[dimension])):
            share = population[dimension][group] / people if people and group in population[dimension] else None
            margins.append(
                Margin(dimension, group, raw[group], raw[group] / len(weights), weighted.get(group, 0.0) / total, share)
            )
    deff = len(weights) / effective if effective else 1.0
    return Weighting(used, weights, effective, deff, float(values.max()), margins, notes)


def weighted_results(session: Session, poll: Poll, flow: Flow, weighting: Weighting) -> list[WeightedQuestion]:
    """Every counted question's options, raw and weighted (a respondent counts with their weight): one pass over the
    answers, each distinct answer counted once with how many gave it and their weights' sum."""
    rows, values = tally.answer_rows(session, poll, Answer.question, Answer.resident_id)
    given: dict[tuple[str, str | None], list[float]] = {}
    weights = weighting.weights
    for stored, question, resident_id in rows:
        tally_of = given.setdefault((question, stored), [0, 0.0])
        tally_of[0] += 1
        tally_of[1] += weights.get(resident_id, 1.0)
    found = []
    for node in flow.nodes.values():
        if not node.question or node.kind == "ask-text":
            continue
        raw: Counter[str] = Counter()
        weighted: dict[str, float] = {}
        respondents, weight_total = 0, 0.0
        for (question, stored), (times, weight) in given.items():
            value = values[stored]
            if question != node.question or value in tally.EMPTY_VALUES:
                continue
            respondents, weight_total = respondents + int(times), weight_total + weight
            counted: Counter[str] = Counter()
            tally.add_answer(counted, node.kind, value)
            for option in counted:
                raw[option] += int(times)
                weighted[option] = weighted.get(option, 0.0) + weight
        options = [
            WeightedOption(
                v,
                tally.option_label(flow, node.question, v, node.kind),
                round(100 * raw[v] / respondents, 1) if respondents else 0.0,
                round(100 * weighted.get(v, 0.0) / weight_total, 1) if weight_total else 0.0,
            )
            for v in tally.option_values(node)
        ]
        found.append(WeightedQuestion(node.question, tally.question_text(node), respondents, options))
    return found


def weighted(session: Session, poll: Poll, flow: Flow | None) -> tuple[Weighting, list[WeightedQuestion]]:
    """A poll's weights and its counted questions raw and weighted, computed again only when what they come from
    changed (bot.engagement.remembered)."""

    def compute() -> tuple[Weighting, list[WeightedQuestion]]:
        found = weigh(session, poll)
        return found, weighted_results(session, poll, flow, found) if found.dimensions and flow is not None else []

    flow_slug = flow.slug if flow is not None else None
    key = ("weighted", poll.id, flow_slug, json.dumps(poll.weight_by, sort_keys=True))
    return remembered(session, key, inputs(session, poll.id, flow_slug), compute)


def summary_of(found: Weighting) -> dict[str, Any]:
    """Everything about the weights but the weights: never a row per person."""
    return {f.name: getattr(found, f.name) for f in fields(found) if f.name != "weights"}


def as_text(found: Weighting, questions: list[WeightedQuestion], fmt: str) -> str:
    """Weighted results as a table, CSV (one row per option) or JSON (never a weight per person)."""
    if fmt == "json":
        summary = {**summary_of(found), "margins": [asdict(m) for m in found.margins]}
        return json.dumps({**summary, "questions": [asdict(q) for q in questions]}, indent=2, ensure_ascii=False)
    if fmt == "csv":
        rows = [[q.question, o.value, o.label, o.percent, o.weighted] for q in questions for o in q.options]
        return csv_text(["question", "value", "label", "percent", "weighted_percent"], rows)
    lines = [
        f"weighted by {', '.join(found.dimensions) or 'nothing'}: {len(found.weights)} respondents, effective sample "
        f"size {found.effective_size:.0f}, design effect {found.design_effect:.2f}, largest weight {found.largest:.2f}",
        *found.notes,
    ]
    for question in questions:
        lines.append(f"\n{question.question}: {question.text}")
        lines += [f"  {o.label}: {o.percent:.1f}% raw, {o.weighted:.1f}% weighted" for o in question.options]
    return "\n".join(lines)
