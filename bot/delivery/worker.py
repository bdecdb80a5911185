"""The delivery worker: claims due outbox rows, checks consent at send time, sends, and records the outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bot.channels.base import ChannelAdapter
from bot.channels.segments import segment_count
from bot.clock import Clock
from bot.delivery.gate import CONVERSATIONAL, Verdict, address_of, lock_resident, pass_gate, skip_reason
from bot.delivery.ratelimit import Limit, hold_back, reserve
from bot.delivery.rules import SendRules, quiet_until
from bot.delivery.statuses import apply_early, provider_refused
from bot.messages import Address, Channel, Choice, Outbound, SendResult, SendStatus
from bot.states import OutboxStatus
from bot.store.db import Database, is_transient
from bot.store.models import Message, OutboxItem, Resident
from bot.store.outbox import ALWAYS_ALLOWED

log = logging.getLogger("loopline.delivery")

CAPPED_PREFIX = "broadcast:"
PACE_MARGIN = 0.97  # what counts towards the frequency cap
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


class DeliveryWorker:
    """Sends what the outbox holds, through the adapters of the live channels."""

    def __init__(
        self,
        db: Database,
        adapters: Mapping[Channel, ChannelAdapter],
        clock: Clock,
        batch: int = 50,
        rules: SendRules | None = None,
    ) -> None:
        self.db = db
        self.rules = rules or SendRules()
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.adapters = adapters
        self.clock = clock
        self.batch = batch
        self.wake = asyncio.Event()
        self.stopping = False
        self._attempted_unrecorded: set[int] = set()  # sent (or tried) but the outcome not yet written down

    def claim(self) -> list[Claimed]:
        """Take due rows (SKIP LOCKED on PostgreSQL), skipping those that consent or reachability forbid now."""
        now = self.clock.now()
        channels = [c.value for c in self.adapters]
        with self.db.transaction() as session:
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
                .limit(self.batch)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True)
            claimed = []
            for item in session.scalars(query):
                resident = session.get(Resident, item.resident_id) if item.resident_id else None
                reason = skip_reason(item, resident, address_of(session, item))
                if reason:
                    item.status, item.last_error, item.finished_at = OutboxStatus.SKIPPED, reason, now
                    continue
                held = self._held_until(session, item, resident, now)
                if held is not None:  # it waits, it is not dropped
                    item.status, item.not_before, item.last_error = OutboxStatus.PENDING, held[0], held[1]
                    continue
                item.status, item.claimed_until = (
                    OutboxStatus.SENDING,
                    now + timedelta(seconds=self.rules.claim_seconds),
                )
                item.in_flight_at = None  # a crashed worker's row: its send, if any, is not in flight any more
                item.attempts += 1
                choices = tuple(Choice(v, label) for v, label in item.choices.get("choices", []))
                outbound = Outbound(
                    Address(Channel(item.channel), item.address),
                    item.text,
                    choices,
                    reference=item.idempotency_key,
                )
                claimed.append(Claimed(item.id, item.attempts, outbound, item.resident_id))
            return claimed

    def _held_until(
        self, session: Session, item: OutboxItem, resident: Resident | None, now: datetime
    ) -> tuple[datetime, str] | None:
        """Quiet hours and the frequency cap, checked when sending: (until when, why) if the row must wait."""
        if item.urgent or resident is None or item.purpose in CONVERSATIONAL or item.purpose in ALWAYS_ALLOWED:
            return None
        quiet = quiet_until(now, resident.timezone, self.rules)
        if quiet is not None:
            return quiet, "held: quiet hours"
        if self.rules.cap <= 0 or not item.purpose.startswith(CAPPED_PREFIX):
            return None
        since = now - self.rules.cap_window
        recent = session.scalars(
            select(OutboxItem.finished_at)
            .where(
                OutboxItem.resident_id == resident.id,
                OutboxItem.status == OutboxStatus.SENT,
                OutboxItem.urgent.is_(False),
                OutboxItem.purpose.startswith(CAPPED_PREFIX),
                OutboxItem.finished_at >= since,
            )
            .order_by(OutboxItem.finished_at)
        ).all()
        if len(recent) < self.rules.cap:
            return None
        oldest = recent[len(recent) - self.rules.cap]
        assert oldest is not None
        return oldest + self.rules.cap_window, "held: frequency cap"

    def finish(self, claimed: Claimed, result: SendResult) -> None:
        """Record one attempt's outcome: sent, retry later, or a permanent failure with its consequences."""
        now = self.clock.now()
        refused = result.status is SendStatus.FAILED or (
            result.status is SendStatus.RETRY and claimed.attempts >= MAX_ATTEMPTS
        )
        with self.db.transaction() as session:
            # A refusal may withdraw the resident's consent: their row first, as everywhere (bot.delivery.gate).
            lock_resident(session, claimed.resident_id, share=False, lock=refused and not self.db.is_sqlite)
            item = session.get(OutboxItem, claimed.id, with_for_update=True)
            if item is None or item.status != OutboxStatus.SENDING or item.attempts != claimed.attempts:
                # Our claim ran out and another worker took the row: only the current holder records the outcome.
                if result.status is SendStatus.SENT:
                    log.warning("outbox %s: sent after its claim ran out; another worker may send it again", claimed.id)
                return
            item.claimed_until, item.in_flight_at = None, None
            if result.status is SendStatus.SENT:
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
                item.status, item.message_id, item.finished_at, item.last_error = (
                    "sent",
                    message.id,
                    now,
                    None,
                )
                if result.provider_id and item.channel == Channel.SMS.value:
                    apply_early(session, result.provider_id, now)  # a callback that beat us to it
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

    def limits(self, outbound: Outbound) -> list[tuple[Limit, float]]:
        """The paces a message counts against: Telegram overall and per chat; SMS segments per sender."""
        # No bursts, and a few percent under the provider's figure: a send that arrives a little early against a
        # strict one-second window would otherwise be refused (measured: tests/perf/bench_broadcast.py).
        rules, margin = self.rules, PACE_MARGIN
        if outbound.address.channel is Channel.TELEGRAM:
            chat = rules.telegram_per_chat_per_second * margin
            return [
                (Limit("telegram", rules.telegram_per_second * margin, 1.0), 1.0),
                (Limit(f"telegram:{outbound.address.value}", chat, 1.0), 1.0),
            ]
        if outbound.address.channel is Channel.SMS:
            segments = float(segment_count(outbound.text))
            rate = rules.sms_segments_per_second * margin
            return [(Limit(f"sms:{rules.sms_sender}", rate, max(1.0, segments)), segments)]
        return []

    def _reserve(self, outbound: Outbound) -> float:
        demands = self.limits(outbound)
        if not demands:
            return 0.0
        with self.db.transaction() as session:
            return reserve(session, demands, self.clock.now())

    def _hold_back(self, outbound: Outbound, seconds: float) -> None:
        with self.db.transaction() as session:
            for limit, _cost in self.limits(outbound)[:1]:  # the shared (not per-chat) pace
                hold_back(session, limit, seconds, self.clock.now())

    async def run_once(self) -> int:
        """Claim one batch and send it at the pace the providers allow; the number of rows claimed. Every claimed
        row ends sent, failed, skipped, waiting again, or handed back: on a bookkeeping failure and on stop() the
        rows not yet attempted are released at once, and a long batch extends its claim as it goes."""
        claimed = await self.db.run(self.claim)
        unsettled = {item.id: item for item in claimed}
        renewed = self.clock.now()
        try:
            for item in claimed:
                if (self.clock.now() - renewed).total_seconds() > self.rules.claim_seconds / 3:
                    await self.db.run(self.extend, list(unsettled))
                    renewed = self.clock.now()
                try:
                    if not await self._deliver(item):
                        break  # stopping: this row and the rest go back
                except Exception:
                    # Bookkeeping failed (e.g. the database went away): what was not attempted is handed back.
                    log.exception("outbox %s: delivery bookkeeping failed", item.id)
                    break
                unsettled.pop(item.id, None)
        finally:
            rest = [row_id for row_id in unsettled if row_id not in self._attempted_unrecorded]
            self._attempted_unrecorded.difference_update(unsettled)  # left to their claim's end: sent at least once
            if rest:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.db.run(self.release, rest))
        return len(claimed)

    async def _deliver(self, item: Claimed) -> bool:
        """Send one claimed row unless the gate says otherwise; False when stopping left it unattempted."""
        if self.stopping:
            return False
        adapter = self.adapters[item.outbound.address.channel]
        wait = await self.db.run(self._reserve, item.outbound)
        if wait > 0:
            await self.sleep(wait)
        if self.stopping:
            return False
        verdict = await self._with_retries(self._gate, item)
        if verdict is not Verdict.SEND:
            return True
        self._attempted_unrecorded.add(item.id)
        started = time.monotonic()
        try:
            result = await adapter.send(item.outbound)
        except Exception as exc:  # an adapter bug must not stop delivery of everything else
            log.exception("outbox %s: adapter raised", item.id)
            result = SendResult(SendStatus.RETRY, error=type(exc).__name__)
        if result.status is SendStatus.RETRY and result.retry_after:
            await self.db.run(self._hold_back, item.outbound, result.retry_after)
        elif self._slow(item.outbound, time.monotonic() - started):
            # A send slower than half the pace (a new connection, a hiccup) reached the provider late: count the
            # next one from now, or the ones queued behind it would arrive bunched together.
            await self.db.run(self._hold_back, item.outbound, 0.0)
        await self._record(item, result)
        return True

    async def _record(self, item: Claimed, result: SendResult) -> None:
        """Record an attempt's outcome, retrying a failing database a few times: the provider has answered, so
        the row must not be handed back (it would be sent twice)."""
        for attempt in range(5):
            try:
                await self.db.run(self.finish, item, result)
                break
            except Exception:
                if attempt == 4:
                    raise
                log.warning("outbox %s: recording the outcome failed; retrying", item.id)
                await self.sleep(0.2 * 2**attempt)
        self._attempted_unrecorded.discard(item.id)

    async def _with_retries(self, work: Callable[[Claimed], Verdict], item: Claimed) -> Verdict:
        """A short database step before the send, retried when it failed for a passing reason (a deadlock, a lost
        connection); anything else, or a fourth failure, goes up and the rest of the batch is handed back."""
        for attempt in range(3):
            try:
                return await self.db.run(work, item)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                await self.sleep(0.05 * 2**attempt)
        return await self.db.run(work, item)

    def _gate(self, item: Claimed) -> Verdict:
        with self.db.transaction() as session:
            return pass_gate(
                session, item.id, item.resident_id, item.attempts, self.clock.now(), lock=not self.db.is_sqlite
            )

    def _slow(self, outbound: Outbound, seconds: float) -> bool:
        demands = self.limits(outbound)
        return bool(demands) and seconds > 0.5 / demands[0][0].per_second

    def release(self, ids: list[int]) -> None:
        """Give claimed rows back (not attempted): due again at once, for any worker."""
        if not ids:
            return
        with self.db.transaction() as session:
            for item in session.scalars(
                select(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.status == OutboxStatus.SENDING)
            ):
                item.status, item.claimed_until, item.in_flight_at = OutboxStatus.PENDING, None, None
                item.attempts = max(0, item.attempts - 1)

    def extend(self, ids: list[int]) -> None:
        """Hold the rows still in hand for another claim period (a live worker's heartbeat)."""
        if not ids:
            return
        until = self.clock.now() + timedelta(seconds=self.rules.claim_seconds)
        with self.db.transaction() as session:
            for item in session.scalars(
                select(OutboxItem).where(OutboxItem.id.in_(ids), OutboxItem.status == OutboxStatus.SENDING)
            ):
                item.claimed_until = until

    def stop(self) -> None:
        """Finish the message in hand, hand the rest of the batch back, and leave run_forever."""
        self.stopping = True
        self.wake.set()

    async def run_forever(self, idle_seconds: float = 2.0) -> None:
        """Drain the outbox, then sleep until woken (by a commit or the scheduler's tick), until stop()."""
        self.stopping = False
        for adapter in self.adapters.values():
            warm = getattr(adapter, "warm", None)
            if warm is not None:
                await warm()  # open the provider connection now, so that the first paced send is not late
        while not self.stopping:
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("delivery sweep failed; retrying")
                sent = 0
            if sent:
                continue
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=idle_seconds)
