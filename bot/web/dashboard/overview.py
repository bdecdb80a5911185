"""The dashboard's overview: who is reachable (by channel, language, area), today's traffic, the outbox's health."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.engagement.feedback import response_times
from bot.i18n.negotiation import NATIVE_NAMES
from bot.states import Consent, OutboxStatus
from bot.store.engagement import InputItem
from bot.store.models import Address, Message, OutboxItem, Resident
from bot.web.guard import page, runtime_of
from bot.web.rendering import render


def _label(key: Any) -> str:
    return str(key) if key is not None else "unknown"


def _counts(session: Session, column: Any, *where: Any) -> list[tuple[str, int]]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column).order_by(func.count().desc()))
    return [(_label(key), int(count)) for key, count in rows]


def _most_first(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _residents(session: Session) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Residents by consent, and those who joined by language and by area: one pass over the residents."""
    consent, languages, areas = Counter[str](), Counter[str](), Counter[str]()
    rows = session.execute(
        select(Resident.consent, Resident.locale, Resident.area, func.count()).group_by(
            Resident.consent, Resident.locale, Resident.area
        )
    )
    for state, locale, area, count in rows:
        consent[_label(state)] += count
        if state == Consent.GRANTED:
            languages[_label(locale)] += count
            areas[_label(area)] += count
    return consent, languages, areas


def overview_numbers(
    session: Session, now: datetime, timezone_start: datetime, response_days: int = 60
) -> dict[str, Any]:
    """Everything the overview shows, computed in a few grouped queries (overdue: input past its response date)."""
    consent, languages, areas = _residents(session)
    channels = [
        (_label(channel), int(count))
        for channel, count in session.execute(
            select(Address.channel, func.count())
            .join(Resident, Resident.id == Address.resident_id)
            .where(Resident.consent == Consent.GRANTED, Address.reachable.is_(True))
            .group_by(Address.channel)
            .order_by(func.count().desc())
        )
    ]
    traffic = dict(_counts(session, Message.direction, Message.created_at >= timezone_start))
    outbox = dict(_counts(session, OutboxItem.status))
    failed_recent = dict(
        _counts(
            session,
            OutboxItem.last_error,
            OutboxItem.status == OutboxStatus.FAILED,
            OutboxItem.finished_at >= now - timedelta(days=1),
        )
    )
    inbox = dict(_counts(session, InputItem.status))
    return {
        "channels": channels,
        "languages": [(NATIVE_NAMES.get(k, k), n) for k, n in _most_first(languages)],
        "areas": _most_first(areas)[:15],
        "consent": dict(_most_first(consent)),
        "messages_in": traffic.get("in", 0),
        "messages_out": traffic.get("out", 0),
        "outbox": outbox,
        "failures": sorted(failed_recent.items(), key=lambda kv: -kv[1])[:10],
        "inbox": inbox,
        "overdue": response_times.overdue_count(session, now, response_days),
    }


@page("view")
async def overview(request: Request) -> Response:
    """GET /dashboard."""
    runtime = runtime_of(request)

    def load() -> dict[str, Any]:
        now = runtime.clock.now()
        local = now.astimezone(ZoneInfo(runtime.settings.timezone))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        with runtime.db.transaction() as session:
            return overview_numbers(session, now, midnight, runtime.settings.response_days)

    numbers = await runtime.db.run(load)
    return render(request, "dashboard/overview.html", title="Overview", **numbers)
