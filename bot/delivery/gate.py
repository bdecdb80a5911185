"""The last check before a provider call: a row leaves only if it is still ours and the resident may still get it.

Consent is checked when rows are claimed, and again here, right before each send, in a transaction that shares
the resident's row and then locks the outbox row (on PostgreSQL), so a concurrent STOP is ordered before or
after it. A
STOP cancels every row not yet past this gate (bot.store.outbox.cancel_unsent); a row past it is in the
provider's hands (`in_flight_at`) and finishes, and the STOP's confirmation waits for it (`settled`), so that
nothing reaches a resident after they were told they will get nothing more.
"""

from __future__ import annotations

import asyncio
import enum
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.states import Consent, OutboxStatus
from bot.store.db import Database
from bot.store.models import Address as AddressRow
from bot.store.models import OutboxItem, Resident
from bot.store.outbox import ALWAYS_ALLOWED

CONVERSATIONAL = frozenset({"reply"})
CONFIRMATION_DEFERRAL = timedelta(milliseconds=200)


class Verdict(enum.Enum):
    """What the gate decided for one claimed row."""

    SEND = "send"  # in flight now: call the provider
    SETTLED = "settled"  # cancelled by a STOP, skipped, or no longer ours: nothing to send
    LATER = "later"  # a STOP confirmation waits for the resident's in-flight messages to finish


def skip_reason(item: OutboxItem, resident: Resident | None, address: AddressRow | None) -> str | None:
    """Why a row must not be sent now (None: it may)."""
    if address is not None and not address.reachable:
        return "address unreachable"
    if resident is None or item.purpose in ALWAYS_ALLOWED:
        return None
    if resident.consent == Consent.REVOKED:
        return "resident opted out"
    if item.purpose not in CONVERSATIONAL and resident.consent != Consent.GRANTED:
        return "no consent"
    return None


def address_of(session: Session, item: OutboxItem) -> AddressRow | None:
    """The stored address a row goes to."""
    return session.scalars(
        select(AddressRow).where(AddressRow.channel == item.channel, AddressRow.value == item.address)
    ).first()


def in_flight_count(session: Session, resident_id: int, now: datetime, *, besides: int | None = None) -> int:
    """How many of the resident's rows are in a provider's hands now (a crashed worker's, once its claim has run
    out, no longer count)."""
    query = select(func.count(OutboxItem.id)).where(
        OutboxItem.resident_id == resident_id,
        OutboxItem.in_flight_at.is_not(None),
        OutboxItem.status == OutboxStatus.SENDING,
        OutboxItem.claimed_until > now,
    )
    if besides is not None:
        query = query.where(OutboxItem.id != besides)
    return int(session.scalar(query) or 0)


def lock_resident(session: Session, resident_id: int | None, *, share: bool, lock: bool) -> Resident | None:
    """The resident's row, locked first: every transaction that touches a resident and their outbox rows takes
    the resident before the rows (the pipeline on STOP does the same), so two of them never wait on each other."""
    if resident_id is None:
        return None
    mode: bool | dict[str, bool] = ({"read": True} if share else True) if lock else False
    return session.get(Resident, resident_id, with_for_update=mode)


def pass_gate(
    session: Session, row_id: int, resident_id: int | None, attempts: int, now: datetime, *, lock: bool
) -> Verdict:
    """Decide, under lock, whether one claimed row is sent now; mark it in flight when it is."""
    resident = lock_resident(session, resident_id, share=True, lock=lock)
    item = session.get(OutboxItem, row_id, with_for_update=lock)
    if item is None or item.status != OutboxStatus.SENDING or item.attempts != attempts:
        return Verdict.SETTLED  # a STOP cancelled it, or our claim ran out and another worker holds it
    reason = skip_reason(item, resident, address_of(session, item))
    if reason:
        item.status, item.last_error, item.finished_at, item.claimed_until = OutboxStatus.SKIPPED, reason, now, None
        return Verdict.SETTLED
    waiting = resident is not None and in_flight_count(session, resident.id, now, besides=row_id) > 0
    if item.purpose == "opt_out" and waiting:
        # "You will get no more messages" goes after the ones already in the provider's hands.
        item.status, item.claimed_until, item.attempts = OutboxStatus.PENDING, None, item.attempts - 1
        item.not_before = now + CONFIRMATION_DEFERRAL
        return Verdict.LATER
    item.in_flight_at = now
    return Verdict.SEND


async def settled(db: Database, clock: Clock, resident_id: int, timeout: float = 15.0) -> bool:
    """Wait until none of the resident's messages is in a provider's hands (True), or timeout seconds (False).
    A STOP answered inline (TwiML, the simulator) calls this before its confirmation goes back."""
    deadline = time.monotonic() + timeout

    def count() -> int:
        with db.transaction() as session:
            return in_flight_count(session, resident_id, clock.now())

    while await db.run(count):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
