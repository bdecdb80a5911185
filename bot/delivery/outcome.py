"""What one send attempt leaves behind: a claimed row recorded as sent, waiting for a retry, or failed."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.delivery.gate import lock_resident
from bot.delivery.statuses import TWILIO_CHANNELS, apply_early, provider_refused
from bot.messages import Outbound, SendResult, SendStatus
from bot.states import OutboxStatus
from bot.store.models import Message, OutboxItem

log = logging.getLogger("loopline.delivery")

MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row taken by this worker for one send attempt."""

    id: int
    attempts: int
    outbound: Outbound
    resident_id: int | None = None


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: up to 2, 4, 8 … seconds, capped at 15 minutes."""
    ceiling = min(900.0, 2.0 ** max(1, attempts))
    return (rng or random).uniform(ceiling / 2, ceiling)


def record(session: Session, claimed: Claimed, result: SendResult, now: datetime, *, lock: bool) -> None:
    """Record one attempt's outcome: sent, retry later, or a permanent failure with its consequences (lock: take
    row locks, as on PostgreSQL)."""
    refused = result.status is SendStatus.FAILED or (
        result.status is SendStatus.RETRY and claimed.attempts >= MAX_ATTEMPTS
    )
    if refused:  # it may withdraw the resident's consent: their row first, as everywhere (bot.delivery.gate)
        lock_resident(session, claimed.resident_id, share=False, lock=lock)
    item = session.get(OutboxItem, claimed.id, with_for_update=True)
    if item is None or item.status != OutboxStatus.SENDING or item.attempts != claimed.attempts:
        # Our claim ran out and another worker took the row: only the current holder records the outcome.
        if result.status is SendStatus.SENT:
            log.warning("outbox %s: sent after its claim ran out; another worker may send it again", claimed.id)
        return
    item.claimed_until, item.in_flight_at = None, None
    if result.status is SendStatus.SENT:
        _sent(session, item, result, now)
        return
    item.last_error = (result.error or result.error_code or "failed")[:500]
    if result.status is SendStatus.RETRY and claimed.attempts < MAX_ATTEMPTS:
        delay = result.retry_after if result.retry_after is not None else backoff(claimed.attempts)
        item.status, item.not_before = OutboxStatus.PENDING, now + timedelta(seconds=delay)
        return
    item.status, item.finished_at = OutboxStatus.FAILED, now
    provider_refused(
        session,
        item.resident_id,
        item.channel,
        item.address,
        now,
        opted_out=result.opted_out,
        unreachable=result.unreachable,
    )


def _sent(session: Session, item: OutboxItem, result: SendResult, now: datetime) -> None:
    """The provider took the message: the outgoing message row, and the outbox row finished with it."""
    provider_id, payload = result.provider_id, {}
    if provider_id and session.scalar(
        select(Message.id).where(Message.channel == item.channel, Message.provider_id == provider_id)
    ):
        # A provider reused an id (a mock, a bug): the send still happened and is recorded as sent.
        provider_id, payload = None, {"provider_id": result.provider_id or "", "reused_id": "1"}
    message = Message(
        resident_id=item.resident_id,
        direction="out",
        channel=item.channel,
        address=item.address,
        text=item.text,
        provider_id=provider_id,
        status="sent",
        payload=payload,
        created_at=now,
    )
    session.add(message)
    session.flush()
    item.status, item.message_id, item.finished_at, item.last_error = "sent", message.id, now, None
    if result.provider_id and item.channel in TWILIO_CHANNELS:
        apply_early(session, result.provider_id, now)  # a callback that beat us to it
