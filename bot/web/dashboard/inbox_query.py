"""The inbox's filters (GET query parameters) and the query they make, limited to what the person may see."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, String, cast, func, select
from sqlalchemy.orm import Session

from bot.engagement.feedback import response_times
from bot.engagement.feedback.triage import KINDS, STATUSES
from bot.engagement.forms import one_line
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.ids import plain_number, record_id
from bot.staff import sharing
from bot.staff.accounts import Staff
from bot.store.engagement import InputItem, Poll

PAGE_SIZE = 50
Due = tuple[datetime, int]  # now, and the program's response days: what "overdue" is measured against


class FilterError(ValueError):
    """A filter value that makes no sense (shown to staff with a 400)."""


def _date(name: str, raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise FilterError(f"{name} must be a date like 2026-03-15.") from exc


@dataclass(frozen=True)
class InboxFilter:
    """What the inbox shows: every filter is optional; the page starts at 1."""

    topic: str = ""
    area: str = ""
    language: str = ""
    status: str = ""
    tag: str = ""
    poll: str = ""
    kind: str = ""
    mine: bool = False
    overdue: bool = False
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> InboxFilter:
        """Read the filters from query parameters (FilterError for a value that cannot be right)."""

        def text(name: str, limit: int = 120) -> str:
            return one_line(str(params.get(name, "")), limit)

        status, language, kind = text("status"), text("language"), text("kind")
        if status and status not in STATUSES:
            raise FilterError(f"status must be one of {', '.join(STATUSES)}.")
        if language and language not in SUPPORTED_LOCALES:
            raise FilterError(f"language must be one of {', '.join(SUPPORTED_LOCALES)}.")
        if kind and kind not in KINDS:
            raise FilterError(f"kind must be one of {', '.join(KINDS)}.")
        page_text = text("page") or "1"
        if not (plain_number(page_text, 100_000) or 0) >= 1:
            raise FilterError("page must be a positive number.")
        return cls(
            topic=text("topic", 64),
            area=text("area"),
            language=language,
            status=status,
            tag=text("tag", 40).lower(),
            poll=text("poll", 64),
            kind=kind,
            mine=params.get("mine") in ("1", "on", "true"),
            overdue=params.get("overdue") in ("1", "on", "true"),
            date_from=_date("from", text("from")),
            date_to=_date("to", text("to")),
            q=text("q", 200),
            page=int(page_text),
        )

    def params(self, **overrides: Any) -> dict[str, str]:
        """The filters as query parameters (empty ones left out)."""
        current = replace(self, **overrides)
        out: dict[str, str] = {}
        for item in fields(current):
            value = getattr(current, item.name)
            name = {"date_from": "from", "date_to": "to"}.get(item.name, item.name)
            if value in ("", None, False) or (item.name == "page" and value == 1):
                continue
            out[name] = "1" if value is True else str(value)
        return out

    def query_string(self, **overrides: Any) -> str:
        """The filters as a URL query ("status=received&page=2"), for links and the CSV export."""
        return urlencode(self.params(**overrides))

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return bool(self.params(page=1))


def _bound(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone).astimezone(UTC)


def conditions(
    session: Session, staff: Staff, chosen: InboxFilter, timezone: str, due: Due | None = None
) -> list[ColumnElement[bool]]:
    """The WHERE clauses of the filters (dates are days in the program's time zone, both ends included; overdue as
    of due's time, with its response days)."""
    zone = ZoneInfo(timezone)
    where: list[ColumnElement[bool]] = [sharing.visible_to(session, staff, "item")]
    equal = ((InputItem.topic, chosen.topic), (InputItem.locale, chosen.language), (InputItem.status, chosen.status))
    where += [column == value for column, value in (*equal, (InputItem.kind, chosen.kind)) if value]
    if chosen.area:
        where.append(func.lower(InputItem.area) == chosen.area.lower())
    if chosen.tag:
        # Tags are a JSON list of normalised words: look for the quoted word in its text.
        where.append(cast(InputItem.tags, String).contains(json.dumps(chosen.tag), autoescape=True))
    if chosen.poll:
        where.append(InputItem.poll_id.in_(select(Poll.id).where(Poll.slug == chosen.poll)))
    if chosen.mine:
        where.append(InputItem.assigned_to_id == staff.user_id)
    if chosen.overdue and due is not None:
        where.append(response_times.overdue(*due))
    if chosen.date_from:
        where.append(InputItem.created_at >= _bound(chosen.date_from, zone))
    if chosen.date_to:
        where.append(InputItem.created_at < _bound(chosen.date_to + timedelta(days=1), zone))
    if chosen.q:
        found = InputItem.text.icontains(chosen.q, autoescape=True)
        if (ref := record_id(chosen.q)) is not None:
            found = found | (InputItem.ref == ref)
        where.append(found)
    return where


def items_query(
    session: Session, staff: Staff, chosen: InboxFilter, timezone: str, due: Due | None = None
) -> Select[InputItem]:
    """The matching items, newest first."""
    return (
        select(InputItem)
        .where(*conditions(session, staff, chosen, timezone, due))
        .order_by(InputItem.created_at.desc(), InputItem.id.desc())
    )


def count(session: Session, staff: Staff, chosen: InboxFilter, timezone: str, due: Due | None = None) -> int:
    """How many items match."""
    where = conditions(session, staff, chosen, timezone, due)
    return int(session.scalar(select(func.count()).select_from(InputItem).where(*where)) or 0)


def page_of(
    session: Session, staff: Staff, chosen: InboxFilter, timezone: str, due: Due | None = None
) -> list[InputItem]:
    """One page of matching items."""
    query = items_query(session, staff, chosen, timezone, due)
    return list(session.scalars(query.limit(PAGE_SIZE).offset((chosen.page - 1) * PAGE_SIZE)))


def choices(session: Session, staff: Staff) -> dict[str, list[str]]:
    """The values the filter menus offer: topics, areas and poll slugs among the visible items."""
    visible = sharing.visible_to(session, staff, "item")

    def distinct(column: Any) -> list[str]:
        rows = session.scalars(select(column).where(visible, column.is_not(None)).distinct().order_by(column))
        return [str(v) for v in rows][:200]

    polls = session.scalars(
        select(Poll.slug).where(Poll.id.in_(select(InputItem.poll_id).where(visible))).order_by(Poll.slug)
    )
    return {"topics": distinct(InputItem.topic), "areas": distinct(InputItem.area), "polls": list(polls)}


def find_visible(session: Session, staff: Staff, ref: int) -> InputItem | None:
    """One item, if the person may see it."""
    return session.scalars(
        select(InputItem).where(InputItem.ref == ref, sharing.visible_to(session, staff, "item"))
    ).first()
