"""Who is heard: the population baseline (a CSV of counts by dimension and group, from a named source) and the
representation report — per dimension, each group's share of respondents against its share of the population, the
ratio, the groups below the threshold flagged, and one score (1 − ½·Σ|p − q|)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from bot.engagement.areas import AreaBook, display_name
from bot.engagement.polls.public_results import SMALLEST_GROUP
from bot.engagement.remembered import inputs, remembered
from bot.engagement.residents import about_me
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.ids import plain_number
from bot.staff import audit
from bot.staff.spreadsheet import csv_rows
from bot.states import Consent
from bot.store.engagement import Answer, Poll
from bot.store.models import Address, Resident
from bot.store.places import BaselineCount

DIMENSIONS = ("language", "area", "channel")  # what every resident has; what residents say about themselves joins
SMALL_GROUPS = "fewer than 5 each"  # self-described groups of 1-4 people, counted together
THRESHOLD = 0.8  # a group below 0.8 of its population share is flagged
NOT_KNOWN = "not known"  # the group of someone who has not said (or has no reachable address)
COLUMNS = ("dimension", "group", "population", "area", "source")


class BaselineError(ValueError):
    """A baseline file that cannot be taken; the message lists every bad line."""


def load_baseline(session: Session, text: str, locale: str, actor: str, now: datetime) -> int:
    """Replace the baseline with a CSV's counts (dimension, group, population, optional area code and source);
    languages by code, areas by their code or any name; every error listed at once. The rows stored."""
    header, lines = csv_rows(text)
    if not {"dimension", "group", "population"} <= set(header):
        raise BaselineError(f"the first line names the columns: {', '.join(COLUMNS)} (area and source optional)")
    book = AreaBook.read(session)
    rows: list[BaselineCount] = []
    problems: list[str] = []
    for line, row in enumerate(lines, 2):
        dimension, group = row.get("dimension", "").strip().lower(), row.get("group", "").strip()
        population = plain_number(row.get("population", ""), 10**9)
        named = book.match(group) if dimension == "area" else None
        typed_area = row.get("area", "").strip()
        within = book.match(typed_area) if typed_area else None
        if not dimension or not group:
            problems.append(f"line {line}: give a dimension and a group")
        if population is None:
            problems.append(f"line {line}: population must be a whole number")
        if dimension == "language" and group not in SUPPORTED_LOCALES:
            problems.append(f"line {line}: language groups are {', '.join(SUPPORTED_LOCALES)}, not {group!r}")
        if dimension == "area" and named is None:
            problems.append(f"line {line}: no area {group!r} (load the areas first: loopline areas load)")
        if typed_area and within is None:
            problems.append(f"line {line}: no area {typed_area!r}")
        rows.append(
            BaselineCount(
                dimension=dimension,
                group_name=display_name(named, locale) if named is not None else group,
                area=within.code if within is not None else None,
                population=population or 0,
                source=row.get("source", "").strip()[:300],
                loaded_at=now,
            )
        )
    if problems or not rows:
        raise BaselineError("; ".join(problems) or "the file has no counts")
    session.execute(delete(BaselineCount))
    session.add_all(rows)
    audit.record(session, actor, "baseline.load", "baseline", now, rows=len(rows))
    return len(rows)


@dataclass(frozen=True)
class GroupShare:
    """One group of a dimension: respondents, their share, the population's share, the ratio, and the flag."""

    group: str
    respondents: int
    share: float
    population_share: float | None
    ratio: float | None
    flagged: bool


@dataclass(frozen=True)
class DimensionReport:
    """One dimension: its groups, most under-represented first, and the representativeness score (None without a
    baseline for it)."""

    dimension: str
    groups: list[GroupShare] = field(default_factory=list)
    score: float | None = None


@dataclass(frozen=True)
class Report:
    """Who answered (or takes part), against the population, dimension by dimension."""

    respondents: int
    dimensions: list[DimensionReport]
    sources: list[str]


def respondent_groups(session: Session, poll: Poll | None) -> dict[int, dict[str, str]]:
    """Each respondent's group in every dimension: a poll's respondents as they answered (language, area, channel),
    or the residents taking part (language, area, first reachable channel)."""
    found: dict[int, dict[str, str]] = {}
    if poll is not None:
        first = select(func.min(Answer.id)).where(Answer.poll_id == poll.id).group_by(Answer.resident_id)
        rows = session.connection().execute(  # Core rows: 20,000 of them without the ORM's loading
            select(Answer.resident_id, Answer.locale, Answer.area, Answer.channel).where(Answer.id.in_(first))
        )
        for resident_id, answered_in, answered_from, answered_on in rows:
            groups = {"language": answered_in or "", "area": answered_from or "", "channel": answered_on or ""}
            found[int(resident_id)] = groups
        return _with_about_me(session, found, select(Answer.resident_id).where(Answer.poll_id == poll.id))
    channels = dict(
        session.execute(select(Address.resident_id, func.min(Address.channel)).group_by(Address.resident_id)).all()
    )
    for resident_id, locale, area in session.execute(
        select(Resident.id, Resident.locale, Resident.area).where(Resident.consent == Consent.GRANTED)
    ):
        found[int(resident_id)] = {
            "language": locale or "",
            "area": area or "",
            "channel": channels.get(resident_id, ""),
        }
    return _with_about_me(session, found)


def _with_about_me(
    session: Session, found: dict[int, dict[str, str]], among: Select[Any] | None = None
) -> dict[int, dict[str, str]]:
    """Each respondent's groups with what they said about themselves (never their own words)."""
    for resident_id, groups in about_me.groups(session, among).items():
        if resident_id in found:
            found[resident_id].update(groups)
    return found


def baseline_margins(session: Session) -> dict[str, Counter[str]]:
    """The population of the whole program area by dimension and group (counts within one area aside)."""
    baseline: dict[str, Counter[str]] = {}
    for dimension, group, population in session.execute(
        select(BaselineCount.dimension, BaselineCount.group_name, BaselineCount.population).where(
            BaselineCount.area.is_(None)
        )
    ):
        baseline.setdefault(dimension, Counter())[group] += population
    return baseline


def report(
    session: Session,
    poll: Poll | None = None,
    threshold: float = THRESHOLD,
    who: dict[int, dict[str, str]] | None = None,
) -> Report:
    """The representation report of a poll's respondents, or of everyone taking part (their groups may be given
    when they were read already, for weighted results)."""
    if who is None and poll is None:
        total, counts = _everyone_counted(session)
    else:
        who = who if who is not None else respondent_groups(session, poll)
        total, counts = len(who), _counted(who)
    baseline = baseline_margins(session)
    sources = sorted({s for s in session.scalars(select(BaselineCount.source).distinct()) if s})
    dimensions = [*DIMENSIONS, *sorted((set(baseline) | set(counts)) - set(DIMENSIONS))]
    for dimension in dimensions:  # those who are in no group of a dimension are "not known" in it
        known = counts.setdefault(dimension, Counter())
        known[NOT_KNOWN] += total - sum(known.values())
        if not known[NOT_KNOWN]:
            del known[NOT_KNOWN]
    return Report(total, [_dimension(d, counts[d], baseline.get(d), threshold) for d in dimensions], sources)


def _counted(who: dict[int, dict[str, str]]) -> dict[str, Counter[str]]:
    """Each dimension's groups counted over the respondents (those in none are left for report to count)."""
    counts: dict[str, Counter[str]] = {}
    for groups in who.values():
        for dimension, group in groups.items():
            if group:
                counts.setdefault(dimension, Counter())[group] += 1
    return counts


def _everyone_counted(session: Session) -> tuple[int, dict[str, Counter[str]]]:
    """How many residents take part, and their groups counted per dimension by the database (a program's every
    resident is never held as a row per person: 100,000 of them took about 50 MB)."""
    taking_part = Resident.consent == Consent.GRANTED
    total = int(session.scalar(select(func.count(Resident.id)).where(taking_part)) or 0)
    first = select(Address.resident_id, func.min(Address.channel).label("channel")).group_by(Address.resident_id)
    channels = first.subquery()
    counts: dict[str, Counter[str]] = {}
    for dimension, column, joined in (
        ("language", Resident.locale, None),
        ("area", Resident.area, None),
        ("channel", channels.c.channel, channels),
    ):
        query = select(column, func.count()).select_from(Resident).where(taking_part).group_by(column)
        if joined is not None:
            query = query.outerjoin(joined, joined.c.resident_id == Resident.id)
        counts[dimension] = Counter({str(group): int(n) for group, n in session.execute(query) if group})
    for groups in about_me.groups(session, select(Resident.id).where(taking_part)).values():
        for dimension, group in groups.items():
            counts.setdefault(dimension, Counter())[group] += 1
    return total, counts


def kept_report(session: Session, poll: Poll | None = None) -> Report:
    """The report of a poll's respondents (or of everyone taking part), computed again only when what it comes from
    changed (bot.engagement.remembered)."""
    key = ("representation", poll.id if poll is not None else None)
    found = inputs(session, poll.id if poll is not None else None)
    return remembered(session, key, found, lambda: report(session, poll))


def _dimension(
    dimension: str, counts: Counter[str], population: Counter[str] | None, threshold: float
) -> DimensionReport:
    if dimension not in DIMENSIONS:  # what people said about themselves: no group of fewer than 5 named
        counts, population = _small_groups_together(counts, population)
    total, people = sum(counts.values()), sum((population or Counter()).values())
    groups = []
    for group in sorted(set(counts) | set(population or {})):
        share = counts[group] / total if total else 0.0
        expected = (population or Counter())[group] / people if people else None
        ratio = share / expected if expected else None
        flagged = ratio is not None and ratio < threshold
        groups.append(GroupShare(group, counts[group], share, expected, ratio, flagged))
    groups.sort(key=lambda g: (g.ratio is None, g.ratio if g.ratio is not None else 0.0, g.group))
    score = None
    if population and people:
        score = 1 - 0.5 * sum(abs(g.share - (g.population_share or 0.0)) for g in groups)
    return DimensionReport(dimension, groups, score)


def _small_groups_together(
    counts: Counter[str], population: Counter[str] | None
) -> tuple[Counter[str], Counter[str] | None]:
    """Groups of 1 to 4 people counted as one, against their populations together, so that no one's answer about
    themselves can be told apart."""
    small = {group for group, n in counts.items() if 0 < n < SMALLEST_GROUP}
    if not small:
        return counts, population
    together = Counter({group: n for group, n in counts.items() if group not in small})
    together[SMALL_GROUPS] = sum(counts[group] for group in small)
    if population is None:
        return together, None
    merged = Counter({group: n for group, n in population.items() if group not in small})
    merged[SMALL_GROUPS] = sum(population[group] for group in small)
    return together, merged
