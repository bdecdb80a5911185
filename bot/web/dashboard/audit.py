"""The audit log page for admins: newest first, filtered by actor, action and day, a page at a time, and as CSV."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement.feedback.topics import topic_label
from bot.ids import MAX_RECORD_ID
from bot.staff.spreadsheet import csv_text
from bot.store.engagement import AuditEvent
from bot.store.staff import User
from bot.web.downloads import csv_download
from bot.web.guard import page, runtime_of
from bot.web.rendering import PRIVATE_HEADERS, render

AUDIT_PAGE = 50
AUDIT_CSV_ROWS = 100_000


class FilterError(ValueError):
    """A filter that cannot be used, with a message fit to show."""


@dataclass(frozen=True)
class AuditFilters:
    """The audit log's filters, checked: actor (contains), action (prefix), days from/to (in the program's time
    zone), page cursor."""

    actor: str = ""
    action: str = ""
    since: date | None = None
    until: date | None = None
    before: int | None = None
    zone: str = "UTC"  # the program's: a day is the program's day

    def query(self, session: Session) -> Select[Any]:
        """The matching events, newest first (by time, then by id); after the `before` event when paging."""
        local = ZoneInfo(self.zone)
        query = select(AuditEvent)
        if self.actor:
            query = query.where(func.lower(AuditEvent.actor).contains(self.actor.lower(), autoescape=True))
        if self.action:
            query = query.where(AuditEvent.action.startswith(self.action, autoescape=True))
        if self.since:
            query = query.where(AuditEvent.at >= datetime.combine(self.since, time(), local).astimezone(UTC))
        if self.until:
            end = datetime.combine(self.until + timedelta(days=1), time(), local).astimezone(UTC)
            query = query.where(AuditEvent.at < end)
        if self.before:
            cursor = session.get(AuditEvent, self.before)
            if cursor is None:
                return query.where(false())
            query = query.where(
                or_(AuditEvent.at < cursor.at, and_(AuditEvent.at == cursor.at, AuditEvent.id < cursor.id))
            )
        return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())

    def link(self, **changes: Any) -> str:
        """The query string of these filters with some changed (empty values left out)."""
        values = {"actor": self.actor, "action": self.action, "since": self.since, "until": self.until}
        values.update(changes)
        return urlencode({k: str(v) for k, v in values.items() if v})


def audit_filters(request: Request) -> AuditFilters:
    """The filters from the query string; FilterError naming a bad one."""
    params = request.query_params
    unknown = sorted(set(params) - {"actor", "action", "since", "until", "before"})
    if unknown:
        raise FilterError(f"Unknown filters: {', '.join(k[:40] for k in unknown[:5])}.")
    text = {name: params.get(name, "").strip() for name in ("actor", "action")}
    if any(len(value) > 120 or any(ord(c) < 32 for c in value) for value in text.values()):
        raise FilterError("Filters are at most 120 printable characters.")
    days: dict[str, date | None] = {}
    for name in ("since", "until"):
        raw = params.get(name, "").strip()
        try:
            days[name] = date.fromisoformat(raw) if raw else None
        except ValueError:
            raise FilterError(f"{name}: give a date like 2026-03-01.") from None
        if (found := days[name]) is not None and not 2000 <= found.year <= 2200:
            raise FilterError(f"{name}: give a date between the years 2000 and 2200.")
    raw_before = params.get("before", "").strip()
    if raw_before and not (raw_before.isascii() and raw_before.isdigit() and len(raw_before) <= 10):
        raise FilterError("before: give a whole number.")
    before = int(raw_before) if raw_before else None
    if before is not None and before > MAX_RECORD_ID:
        raise FilterError("before: that number is too large.")
    zone = request.app.state.runtime.settings.timezone
    return AuditFilters(text["actor"], text["action"], days["since"], days["until"], before, zone)


def details_text(details: dict[str, Any], action: str = "") -> str:
    """An event's details as `key=value` pairs (a topic by its label)."""
    shown = {
        key: topic_label(value) if action == "item.topic" and isinstance(value, str) else value
        for key, value in (details or {}).items()
    }
    return ", ".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)}"
        for key, value in sorted(shown.items())
    )


def _subject_names(session: Session, rows: list[AuditEvent]) -> dict[str, str]:
    """The people audit subjects name by id ("user:2"), by their e-mail."""
    ids = {int(s.removeprefix("user:")) for s in (r.subject for r in rows) if re.fullmatch(r"user:\d{1,18}", s)}
    if not ids:
        return {}
    return {
        f"user:{user_id}": email
        for user_id, email in session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    }


@page("audit")
async def audit_page(request: Request) -> Response:
    """GET /dashboard/audit: newest first, filtered, a page at a time."""
    runtime = runtime_of(request)
    try:
        filters = audit_filters(request)
    except FilterError as exc:
        return render(
            request,
            "dashboard/audit.html",
            400,
            title="Audit log",
            error=str(exc),
            events=[],
            filters=AuditFilters(),
            older="",
        )

    def load(session: Session) -> tuple[list[AuditEvent], dict[str, str]]:
        found = list(session.scalars(filters.query(session).limit(AUDIT_PAGE + 1)))
        return found, _subject_names(session, found)

    rows, names = await runtime.db.in_transaction(load)
    older = filters.link(before=rows[AUDIT_PAGE - 1].id) if len(rows) > AUDIT_PAGE else ""
    events = [
        {"row": row, "details": details_text(row.details, row.action), "subject": names.get(row.subject, row.subject)}
        for row in rows[:AUDIT_PAGE]
    ]
    return render(
        request, "dashboard/audit.html", title="Audit log", events=events, filters=filters, older=older, error=""
    )


@page("audit")
async def audit_csv(request: Request) -> Response:
    """GET /dashboard/audit.csv: the filtered log as CSV (newest first)."""
    runtime = runtime_of(request)
    try:
        filters = audit_filters(request)
    except FilterError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain", headers=PRIVATE_HEADERS)

    def load(session: Session) -> str:
        rows = session.scalars(filters.query(session).limit(AUDIT_CSV_ROWS))
        table = [
            [row.at.isoformat(), row.actor, row.action, row.subject, json.dumps(row.details, ensure_ascii=False)]
            for row in rows
        ]
        return csv_text(("at", "actor", "action", "subject", "details"), table)

    return csv_download(await runtime.db.in_transaction(load), "audit-log.csv", PRIVATE_HEADERS)


ROUTES: list[BaseRoute] = [
    Route("/dashboard/audit", audit_page, methods=["GET"]),
    Route("/dashboard/audit.csv", audit_csv, methods=["GET"]),
]
