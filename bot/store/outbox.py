"""The outbox, the one way a message is queued: building a row, queueing rows once each, cancelling on STOP."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    String,
    Subquery,
    Table,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.channels.render import render
from bot.i18n.negotiation import text_direction
from bot.messages import Address, Channel, Outbound, Reply
from bot.states import OutboxStatus
from bot.store.models import Address as AddressRow
from bot.store.models import OutboxItem

OUTBOX = typed(Table, OutboxItem.__table__)
# The answers to STOP, HELP and START: sent whatever the resident's consent (CTIA: STOP gets its confirmation).
ALWAYS_ALLOWED = frozenset({"opt_out", "help", "opt_in"})
KEYS_PER_QUERY = 10_000  # PostgreSQL takes at most 65,535 parameters per statement (stock SQLite: 32,766)


def outbox_row(key: str, purpose: str, resident_id: int | None, outbound: Outbound, now: datetime) -> dict[str, Any]:
    """The outbox row that carries a rendered message, due now; every column named, so rows insert as a batch."""
    return {
        "idempotency_key": key,
        "purpose": purpose,
        "resident_id": resident_id,
        "channel": outbound.address.channel.value,
        "address": outbound.address.value,
        "text": outbound.text,
        "choices": _choices(outbound),
        "status": OutboxStatus.PENDING,
        "urgent": False,
        "attempts": 0,
        "not_before": now,
        "claimed_until": None,
        "in_flight_at": None,
        "last_error": None,
        "message_id": None,
        "created_at": now,
        "finished_at": None,
    }


def _choices(outbound: Outbound) -> dict[str, Any]:
    """The choices column: the buttons' data and labels, and the text above them where it differs (WhatsApp)."""
    if not outbound.choices:
        return {}
    kept: dict[str, Any] = {"choices": [[c.value, c.label] for c in outbound.choices]}
    if outbound.lead:
        kept["lead"] = outbound.lead
    if outbound.choose:
        kept["button"] = outbound.choose
    return kept


def reachable_address(session: Session, resident_id: int) -> AddressRow | None:
    """The resident's first address that can still be reached."""
    return session.scalars(
        select(AddressRow)
        .where(AddressRow.resident_id == resident_id, AddressRow.reachable.is_(True))
        .order_by(AddressRow.id)
    ).first()


def notice_row(
    key: str, purpose: str, resident_id: int, address: AddressRow, text: str, locale: str, now: datetime
) -> dict[str, Any]:
    """The outbox row for a message the program starts (not a reply) in a language, rendered for the channel."""
    return reply_row(key, purpose, resident_id, address, Reply(text, (), text_direction(locale)), now)


def reply_row(
    key: str, purpose: str, resident_id: int, address: AddressRow, reply: Reply, now: datetime
) -> dict[str, Any]:
    """The outbox row for a message the program starts, with its choices (a conversation's first question)."""
    return outbox_row(key, purpose, resident_id, render(reply, Address(Channel(address.channel), address.value)), now)


def queue_once(session: Session, rows: list[dict[str, Any]]) -> int:
    """Queue outbox rows, skipping any whose idempotency key is already queued; how many were new."""
    if not rows:
        return 0
    keys = [row["idempotency_key"] for row in rows]
    present: set[str] = set()
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = keys[start : start + KEYS_PER_QUERY]
        present.update(session.scalars(select(OutboxItem.idempotency_key).where(OutboxItem.idempotency_key.in_(chunk))))
    fresh = [row for row in rows if row["idempotency_key"] not in present]
    if fresh:
        dialect = session.get_bind().dialect.name
        insert = pg_insert(OUTBOX) if dialect == "postgresql" else sqlite_insert(OUTBOX)
        session.connection().execute(insert.on_conflict_do_nothing(index_elements=["idempotency_key"]), fresh)
    return len(fresh)


def queue_selected(
    session: Session,
    purpose: str,
    recipients: Subquery,
    text: ColumnElement[Any],
    urgent: bool,
    not_before: datetime,
    now: datetime,
) -> int:
    """Queue one row per recipient (a subquery of resident id, channel and address value) in one INSERT … SELECT,
    keyed purpose:resident, with the text the expression picks (no row where it is NULL); how many rows the purpose
    now has. 100,000 recipients never pass through Python one by one."""
    empty: Any = literal("{}") if session.get_bind().dialect.name == "sqlite" else cast(literal("{}"), JSON)
    moment = OUTBOX.c.not_before.type
    selected = {
        "idempotency_key": literal(f"{purpose}:") + cast(recipients.c.id, String),
        "purpose": literal(purpose),
        "resident_id": recipients.c.id,
        "channel": recipients.c.channel,
        "address": recipients.c.value,
        "text": text,
        "choices": empty,
        "status": literal(OutboxStatus.PENDING),
        "urgent": literal(urgent, Boolean),
        "attempts": literal(0),
        "not_before": literal(not_before, moment),
        "created_at": literal(now, moment),
    }
    rows = select(*(value.label(name) for name, value in selected.items())).where(text.is_not(None))
    session.connection().execute(insert(OUTBOX).from_select(list(selected), rows))
    # rowcount of INSERT … SELECT is not reported by every driver: count what was queued instead.
    return int(session.scalar(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.purpose == purpose)) or 0)


def cancel_unsent(session: Session, resident_id: int, now: datetime) -> None:
    """A resident opted out: nothing in the outbox for them leaves, on any channel — neither what waits nor what a
    worker has claimed but not yet handed to the provider (its last check, right before the call, finds it
    cancelled). A row already in the provider's hands (in_flight_at) finishes; the STOP's confirmation waits
    for it (bot.delivery.gate)."""
    session.connection().execute(
        update(OUTBOX)
        .where(
            OUTBOX.c.resident_id == resident_id,
            OUTBOX.c.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
            OUTBOX.c.in_flight_at.is_(None),
            OUTBOX.c.purpose.not_in(ALWAYS_ALLOWED),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="resident opted out", finished_at=now, claimed_until=None)
    )
