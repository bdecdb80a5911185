"""Answering on time: every input item is due an answer (an outcome: acted on or not adopted) by its committed date,
else within the program's response days of arriving; which are overdue, and how fast each language and area is
answered (the median days and the share answered on time), so that a group answered more slowly shows."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from bot.engagement.polls.public_results import SMALLEST_GROUP, groups_of_five
from bot.store.engagement import InputItem


def due_date(item: InputItem, days: int) -> datetime:
    """When an item is due its answer."""
    return item.respond_by or item.created_at + timedelta(days=days)


def overdue(now: datetime, days: int) -> ColumnElement[bool]:
    """Items not answered yet whose date has passed (as a WHERE clause)."""
    return and_(
        InputItem.responded_at.is_(None),
        or_(
            InputItem.respond_by < now,
            and_(InputItem.respond_by.is_(None), InputItem.created_at < now - timedelta(days=days)),
        ),
    )


def overdue_count(session: Session, now: datetime, days: int) -> int:
    """How many items are past their date without an answer."""
    return int(session.scalar(select(func.count()).select_from(InputItem).where(overdue(now, days))) or 0)


@dataclass(frozen=True, slots=True)
class Speed:
    """How fast one group's input was answered: how many answered, the median days, the share on time; None where
    fewer than 5 were answered (too few to say)."""

    group: str
    answered: int
    median_days: float | None
    on_time: float | None


@dataclass(frozen=True, slots=True)
class Speeds:
    """Speed overall and per language and area."""

    overall: Speed
    by_language: list[Speed]
    by_area: list[Speed]


def speeds(session: Session, days: int) -> Speeds:
    """How fast input was answered: overall, by language and by area (groups of fewer than 5 answered not named)."""
    rows = session.execute(
        select(
            InputItem.created_at, InputItem.responded_at, InputItem.respond_by, InputItem.locale, InputItem.area
        ).where(InputItem.responded_at.is_not(None))
    ).all()
    everyone: list[tuple[float, bool]] = []
    by: dict[str, dict[str, list[tuple[float, bool]]]] = {"language": defaultdict(list), "area": defaultdict(list)}
    for created, responded, respond_by, locale, area in rows:
        assert responded is not None  # the query asks for answered items only
        due = respond_by or created + timedelta(days=days)
        took = ((responded - created).total_seconds() / 86400, responded <= due)
        everyone.append(took)
        by["language"][locale or "not known"].append(took)
        by["area"][area or "not known"].append(took)
    return Speeds(
        _speed("all", everyone),
        _groups(by["language"]),
        _groups(by["area"]),
    )


def _groups(found: dict[str, list[tuple[float, bool]]]) -> list[Speed]:
    return [_speed(group, took) for group, took in groups_of_five(found, "")]


def _speed(group: str, took: list[tuple[float, bool]]) -> Speed:
    if len(took) < SMALLEST_GROUP:
        return Speed(group, len(took), None, None)
    return Speed(
        group,
        len(took),
        round(statistics.median(t for t, _ in took), 1),
        sum(1 for _, on_time in took if on_time) / len(took),
    )
