"""Taking due outbox rows for a send attempt, as far as consent, reachability, quiet hours and the cap allow now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.delivery.gate import CONVERSATIONAL, skip_reason
from bot.delivery.outcome import Claimed
from bot.delivery.rules import SendRules, quiet_until
from bot.delivery.whatsapp import shaped
from bot.messages import Address, Channel, Choice, Outbound
from bot.states import OutboxStatus
from bot.store.models import Address as AddressRow
from bot.store.models import OutboxItem, Resident
from bot.store.outbox import ALWAYS_ALLOWED
from bot.store.whatsapp import Templates, last_messages, registered

CAPPED_PREFIX = "broadcast:"  # what counts towards the frequency cap


def claim_due(
    session: Session, channels: list[str], limit: int, now: datetime, rules: SendRules, *, skip_locked: bool
) -> list[Claimed]:
    """Take up to limit due rows (SKIP LOCKED on PostgreSQL), skipping those that consent or reachability forbid now
    and putting back those that quiet hours or the frequency cap hold."""
    query = (
        select(OutboxItem)
        .where(
            OutboxItem.channel.in_(channels),
            OutboxItem.not_before <= now,
            or_(
                OutboxItem.status == OutboxStatus.PENDING,
                (OutboxItem.status == OutboxStatus.SENDING) & (OutboxItem.claimed_until < now),
            ),
        )
        .order_by(OutboxItem.not_before, OutboxItem.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    items = session.scalars(query).all()
    if not items:
        return []
    known = _Known.read(session, items, now, rules)
    return [claimed for item in items if (claimed := _claim(item, known, now, rules)) is not None]


@dataclass(frozen=True, slots=True)
class _Known:
    """What the rows' checks need, read at once: their residents, addresses, sends that count towards the cap, and
    for WhatsApp rows when the resident last wrote and the registered templates."""

    residents: dict[int, Resident]
    addresses: dict[tuple[str, str], AddressRow]
    recent: dict[int, list[datetime]]
    windows: dict[tuple[int, str], datetime]
    templates: Templates

    @classmethod
    def read(cls, session: Session, items: Sequence[OutboxItem], now: datetime, rules: SendRules) -> _Known:
        resident_ids = {item.resident_id for item in items if item.resident_id is not None}
        residents = {r.id: r for r in session.scalars(select(Resident).where(Resident.id.in_(resident_ids)))}
        where = AddressRow.channel.in_({i.channel for i in items}) & AddressRow.value.in_({i.address for i in items})
        addresses = {(a.channel, a.value): a for a in session.scalars(select(AddressRow).where(where))}
        recent = _recent_capped(session, {i.resident_id for i in items if _capped(i, rules)}, now, rules)
        on_whatsapp = [i.resident_id for i in items if i.channel == Channel.WHATSAPP.value and i.resident_id]
        windows = last_messages(session, on_whatsapp)
        templates = registered(session) if on_whatsapp else Templates({}, {})
        return cls(residents, addresses, recent, windows, templates)


def _claim(item: OutboxItem, known: _Known, now: datetime, rules: SendRules) -> Claimed | None:
    """One row taken for sending, or left skipped or waiting (None)."""
    resident = known.residents.get(item.resident_id) if item.resident_id else None
    reason = skip_reason(item, resident, known.addresses.get((item.channel, item.address)))
    if reason:
        item.status, item.last_error, item.finished_at = OutboxStatus.SKIPPED, reason, now
        return None
    held = held_until(item, resident, now, rules, known.recent.get(item.resident_id or 0, []))
    if held is not None:  # it waits, it is not dropped
        item.status, item.not_before, item.last_error = OutboxStatus.PENDING, held[0], held[1]
        return None
    choices = tuple(Choice(v, label) for v, label in item.choices.get("choices", []))
    outbound = Outbound(
        Address(Channel(item.channel), item.address),
        item.text,
        choices,
        reference=item.idempotency_key,
        lead=str(item.choices.get("lead", "")),
        choose=str(item.choices.get("button", "")),
    )
    if item.channel == Channel.WHATSAPP.value:
        locale = (resident.locale if resident else None) or rules.default_locale
        last = known.windows.get((item.resident_id or 0, item.address))
        as_sent = shaped(outbound, item.purpose, locale, last, now, known.templates)
        if isinstance(as_sent, str):
            item.status, item.last_error, item.finished_at = OutboxStatus.SKIPPED, as_sent, now
            return None
        outbound = as_sent
    item.status, item.claimed_until = OutboxStatus.SENDING, now + timedelta(seconds=rules.claim_seconds)
    item.in_flight_at = None  # a crashed worker's row: its send, if any, is not in flight any more
    item.attempts += 1
    return Claimed(item.id, item.attempts, outbound, item.resident_id)


def _capped(item: OutboxItem, rules: SendRules) -> bool:
    """Whether the frequency cap applies to a row (a broadcast, not urgent, while there is a cap)."""
    return rules.cap > 0 and item.resident_id is not None and not item.urgent and item.purpose.startswith(CAPPED_PREFIX)


def _recent_capped(
    session: Session, resident_ids: set[int | None], now: datetime, rules: SendRules
) -> dict[int, list[datetime]]:
    """Per resident, when their capped messages of the cap's window were sent, oldest first."""
    if not resident_ids:
        return {}
    rows = session.execute(
        select(OutboxItem.resident_id, OutboxItem.finished_at)
        .where(
            OutboxItem.resident_id.in_(resident_ids),
            OutboxItem.status == OutboxStatus.SENT,
            OutboxItem.urgent.is_(False),
            OutboxItem.purpose.startswith(CAPPED_PREFIX),
            OutboxItem.finished_at >= now - rules.cap_window,
        )
        .order_by(OutboxItem.finished_at)
    )
    recent: dict[int, list[datetime]] = {}
    for resident_id, finished_at in rows:
        if resident_id is not None and finished_at is not None:
            recent.setdefault(resident_id, []).append(finished_at)
    return recent


def held_until(
    item: OutboxItem, resident: Resident | None, now: datetime, rules: SendRules, recent: list[datetime]
) -> tuple[datetime, str] | None:
    """Quiet hours and the frequency cap, checked when sending: (until when, why) if the row must wait (recent: when
    the resident's capped messages of the cap's window were sent, oldest first)."""
    if item.urgent or resident is None or item.purpose in CONVERSATIONAL or item.purpose in ALWAYS_ALLOWED:
        return None
    quiet = quiet_until(now, resident.timezone, rules)
    if quiet is not None:
        return quiet, "held: quiet hours"
    if not _capped(item, rules) or len(recent) < rules.cap:
        return None
    return recent[len(recent) - rules.cap] + rules.cap_window, "held: frequency cap"
