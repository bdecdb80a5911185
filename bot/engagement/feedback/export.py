"""Input items as a spreadsheet, the one export the dashboard and the API share: the same columns, times in the
program's zone, never an address (the resident's id only)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
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


def items_csv(session: Session, query: Select[Any], timezone: str, limit: int = EXPORT_ROWS) -> str:
    """Every item the query selects (up to limit), newest first, as spreadsheet-safe CSV; columns, not ORM objects:
    an export can hold every item of the program."""
    zone = ZoneInfo(timezone)
    newest_first = (InputItem.created_at.desc(), InputItem.id.desc())
    items = session.execute(query.with_only_columns(*COLUMNS).order_by(None).order_by(*newest_first).limit(limit)).all()
    poll_ids = {item.poll_id for item in items if item.poll_id}
    polls = dict(session.execute(select(Poll.id, Poll.slug).where(Poll.id.in_(poll_ids))).all()) if poll_ids else {}
    header = (
        "ref",
        "kind",
        f"created ({timezone})",
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
    rows = [
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
    return csv_text(header, rows)
