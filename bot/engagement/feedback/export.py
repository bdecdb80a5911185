"""Input items as a spreadsheet, the one export the dashboard and the API share: the same columns, times in the
program's zone, never an address (the resident's id only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from bot.staff.spreadsheet import csv_text
from bot.store.engagement import InputItem, Poll

EXPORT_ROWS = 50_000
COLUMNS = (
    InputItem.ref,
    InputItem.kind,
    InputItem.created_at,
    InputItem.locale,
    InputItem.area,
    InputItem.channel,
    InputItem.topic,
    InputItem.tags,
    InputItem.status,
    InputItem.poll_id,
    InputItem.rating,
    InputItem.resident_id,
    InputItem.may_contact,
    InputItem.publishable,
    InputItem.text,
)


HEADER = (
    "ref",
    "kind",
    "created ({timezone})",
    "language",
    "area",
    "channel",
    "topic",
    "tags",
    "status",
    "poll",
    "rating",
    "resident_id",
    "may_contact",
    "publishable",
    "text",
)
PAGE_ROWS = 2_000  # read and written at a time: an export of every item never holds them all at once
Cursor = tuple[datetime, int]  # the last item written (created, id): the next page starts after it


def items_csv_page(
    session: Session, query: Select[Any], timezone: str, after: Cursor | None, rows: int = PAGE_ROWS
) -> tuple[str, Cursor | None]:
    """One page of the export, newest first, as spreadsheet-safe CSV (the header before the first page), and where
    the next page starts (None after the last); columns, not ORM objects."""
    zone = ZoneInfo(timezone)
    columns = query.with_only_columns(*COLUMNS, InputItem.id).order_by(None)
    if after is not None:
        created, item_id = after
        older = InputItem.created_at < created
        columns = columns.where(or_(older, and_(InputItem.created_at == created, InputItem.id < item_id)))
    items = session.execute(columns.order_by(InputItem.created_at.desc(), InputItem.id.desc()).limit(rows)).all()
    poll_ids = {item.poll_id for item in items if item.poll_id}
    polls = dict(session.execute(select(Poll.id, Poll.slug).where(Poll.id.in_(poll_ids))).all()) if poll_ids else {}
    lines = [
        [
            item.ref,
            item.kind,
            item.created_at.astimezone(zone).isoformat(timespec="seconds"),
            item.locale,
            item.area,
            item.channel,
            item.topic,
            ";".join(item.tags or []),
            item.status,
            polls.get(item.poll_id or 0, ""),
            item.rating,
            item.resident_id,
            "yes" if item.may_contact else "no",
            "yes" if item.publishable else "no",
            item.text,
        ]
        for item in items
    ]
    header = [column.format(timezone=timezone) for column in HEADER] if after is None else None
    more = (items[-1].created_at, items[-1].id) if len(items) == rows else None
    return csv_text(header, lines), more
