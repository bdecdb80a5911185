"""The delivery worker: claims due outbox rows, paces them, checks consent at send time, sends, records outcomes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.channels.base import ChannelAdapter
from bot.channels.segments import segment_count
from bot.clock import Clock
from bot.delivery.claims import claim_due
from bot.delivery.gate import Verdict, pass_gate
from bot.delivery.in_flight import IN_FLIGHT, Batch
from bot.delivery.outcome import Claimed, record
from bot.delivery.ratelimit import Limit, hold_back, reserve
from bot.delivery.rules import SendRules
from bot.messages import Channel, Outbound, SendResult, SendStatus
from bot.states import OutboxStatus
from bot.store.db import Database, is_transient
from bot.store.models import OutboxItem

log = logging.getLogger("loopline.delivery")

PACE_MARGIN = 0.97  # the share of a provider's rate that the shared pace allows (see limits)


class DeliveryWorker:
    """Sends what the outbox holds, through the adapters of the live channels: rows are paced in order through the
    database's token buckets (shared by every worker) and checked one last time, one after another, and up to
    in_flight of them are in providers' hands at once."""

    def __init__(
        self,
        db: Database,
        adapters: Mapping[Channel, ChannelAdapter],
        clock: Clock,
        batch: int = 50,
        rules: SendRules | None = None,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        if in_flight < 1:
            raise ValueError("in_flight must be at least 1")
        self.db = db
        self.in_flight = in_flight  # sends in providers' hands at once
        self.rules = rules or SendRules()
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.adapters = adapters
        self.clock = clock
        self.batch = batch
        self.wake = asyncio.Event()
        self.stopping = False
        self._attempted_unrecorded: set[int] = set()  # sent (or tried) but the outcome not yet written down
        self._answered = False  # a provider has answered one of this worker's sends

    def claim(self) -> list[Claimed]:
        """Take due rows (SKIP LOCKED on PostgreSQL), skipping those that consent or reachability forbid now."""
        now = self.clock.now()
        channels = [c.value for c in self.adapters]
        with self.db.transaction() as session:
            return claim_due(session, channels, self.batch, now, self.rules, skip_locked=not self.db.is_sqlite)

    def finish(self, claimed: Claimed, result: SendResult) -> None:
        """Record one attempt's outcome: sent, retry later, or a permanent failure with its consequences."""
        with self.db.transaction() as session:
            record(session, claimed, result, self.clock.now(), lock=not self.db.is_sqlite)

    def limits(self, outbound: Outbound) -> list[tuple[Limit, float]]:
        """The paces a message counts against: Telegram overall and per chat; SMS segments per sender; WhatsApp
        messages per sender."""
        # No bursts, and a few percent under the provider's figure: a send that arrives a little early against a
        # strict one-second window would otherwise be refused (measured: tests/perf/bench_broadcast.py).
        rules, margin = self.rules, PACE_MARGIN
        if outbound.address.channel is Channel.TELEGRAM:
            chat = rules.telegram_per_chat_per_second * margin
            return [
                (Limit("telegram", rules.telegram_per_second * margin, 1.0), 1.0),
                (Limit(f"telegram:{outbound.address.value}", chat, 1.0), 1.0),
            ]
        if outbound.address.channel is Channel.WHATSAPP:
            return [(Limit(f"whatsapp:{rules.whatsapp_sender}", rules.whatsapp_per_second * margin, 1.0), 1.0)]
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

    async def _due(self, outbound: Outbound, batch: Batch | None) -> datetime:
        """Reserve the message's place in the shared pace: when it may go."""
        wait = await self.db.run(self._reserve, outbound)
        due = self.clock.now() + timedelta(seconds=wait)
        if batch is not None:
            batch.paced(self._pace_key(outbound), due)
        return due

    def _hold_back(self, outbound: Outbound, seconds: float) -> None:
        with self.db.transaction() as session:
            for limit, _cost in self.limits(outbound)[:1]:  # the shared (not per-chat) pace
                hold_back(session, limit, seconds, self.clock.now())

    async def run_once(self) -> int:
        """Claim due rows and send them at the pace the providers allow; the number of rows claimed. Rows are paced
        and checked one after another, and each one's send and record then runs as a task of its own, up to
        in_flight at once; after a full claim the next is made before its last row goes, and sent on. Every claimed
        row ends sent, failed, skipped, waiting again, or handed back: on a bookkeeping failure and on stop() the
        rows not yet attempted are released at once (the sends already in a provider's hands are answered and
        recorded first), and a long batch extends its claim as it goes."""
        claimed = await self.db.run(self.claim)
        batch = Batch(self.in_flight)
        batch.take(row.id for row in claimed)
        try:
            await self._hand_out(claimed, batch)
        except asyncio.CancelledError:
            batch.cancel()
            raise
        finally:
            await batch.settle()
            unsettled = batch.unsettled
            rest = [row_id for row_id in unsettled if row_id not in self._attempted_unrecorded]
            self._attempted_unrecorded.difference_update(unsettled)  # left to their claim's end: sent at least once
            if rest:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.db.run(self.release, rest))
        return batch.taken

    async def _hand_out(self, claimed: list[Claimed], batch: Batch) -> None:
        """Pace, check and start the rows in order until none is left or stopping or a failure ends it. When the last
        row of a full claim is next, the next claim comes first: its first row's place is then reserved ahead as any
        other's (the worker still holds only one claim's rows, and the last of the one before)."""
        rows, full = deque(claimed), len(claimed) == self.batch
        while rows:
            if full and len(rows) == 1 and not self._halted(batch):
                more = await self.db.run(self.claim)
                batch.take(row.id for row in more)
                rows.extend(more)
                full = len(more) == self.batch
            item = rows.popleft()
            if batch.renewed is None:
                batch.renewed = self.clock.now()
            elif (self.clock.now() - batch.renewed).total_seconds() > self.rules.claim_seconds / 3:
                await self.db.run(self.extend, list(batch.unsettled))
                batch.renewed = self.clock.now()
            try:
                if not await self._hand_over(item, batch, rows):
                    return  # stopping, or a send's bookkeeping failed: this row and the rest go back
            except Exception:
                # Bookkeeping failed (e.g. the database went away): what was not attempted is handed back.
                log.exception("outbox %s: delivery bookkeeping failed", item.id)
                return
            await asyncio.sleep(0)  # let the send just started reach the provider before the next reservation
            if not self._answered:
                # The worker's first send goes alone: it opens a connection and runs the sending code for the first
                # time, and would reach the provider late, bunched with the punctual ones after it.
                await batch.settle()

    async def _hand_over(self, item: Claimed, batch: Batch, following: deque[Claimed]) -> bool:
        """Wait for the row's turn (its address's earlier send answered, a free slot) and its pace, reserve the next
        row's place, check this one a last time and start its send; False when it goes back unattempted."""
        await batch.ready_for(item.outbound.address)
        started = False
        try:
            if self._halted(batch) or not await self._pace(item, batch):
                return False
            # Both at once (on PostgreSQL each waits for the database in a thread of its own).
            ahead, verdict = await asyncio.gather(
                self._reserve_ahead(item, following, batch),
                self._with_retries(self._gate, item),
                return_exceptions=True,
            )
            for outcome in (verdict, ahead):
                if isinstance(outcome, BaseException):
                    raise outcome
            if verdict is Verdict.SEND:
                self._attempted_unrecorded.add(item.id)
                batch.start(item.id, item.outbound.address, self._send_and_record(item, batch))
                started = True
            else:
                batch.unsettled.pop(item.id, None)
            return True
        finally:
            if not started:
                batch.slots.release()

    def _halted(self, batch: Batch | None) -> bool:
        return self.stopping or (batch is not None and batch.failed)

    async def _reserve_ahead(self, current: Claimed, following: deque[Claimed], batch: Batch) -> None:
        """Reserve the next row's place before this one is checked and started, so that neither delays it (only the
        next: a place kept while the process is busy would be used late, closer to the ones after it than the pace
        allows). Not for a row that must wait for an earlier send to its address (it reserves when its turn comes)."""
        if not following:
            return
        item, address = following[0], following[0].outbound.address
        # It needs a slot to leave on time, and the worker's first send goes alone (else it reserves at its turn).
        free = self._answered and not batch.slots.locked()
        if free and address != current.outbound.address and batch.idle(address) and not batch.writing:
            holds = batch.holds
            batch.ahead[item.id] = (await self._due(item.outbound, batch), holds)

    async def _pace(self, item: Claimed, batch: Batch | None = None) -> bool:
        """Wait for the row's place in the shared pace (reserved now, or ahead); reserved again when a provider asked
        for a hold meanwhile (rows not yet sent wait for it). False when stopping (or the batch failed) meanwhile."""
        while True:
            holds = await batch.holds_written() if batch is not None else 0
            ahead = batch.ahead.pop(item.id, None) if batch is not None else None
            due = ahead[0] if ahead is not None and ahead[1] == holds else await self._due(item.outbound, batch)
            wait = (due - self.clock.now()).total_seconds()
            if wait > 0:
                await self.sleep(wait)
            if self._halted(batch):
                return False
            if batch is None or await batch.holds_written() == holds:
                return True

    async def _deliver(self, item: Claimed) -> bool:
        """Send one claimed row unless the gate says otherwise, on its own (pace, last check, send, record); False
        when stopping left it unattempted."""
        if self.stopping or not await self._pace(item):
            return False
        verdict = await self._with_retries(self._gate, item)
        if verdict is not Verdict.SEND:
            return True
        self._attempted_unrecorded.add(item.id)
        await self._send_and_record(item)
        return True

    async def _send_and_record(self, item: Claimed, batch: Batch | None = None) -> None:
        """Call the provider for a row past the gate, hold the shared pace back when asked to (or when the send was
        slow), and record the outcome, the latter even when holding back failed: the provider has answered."""
        adapter = self.adapters[item.outbound.address.channel]
        counted = batch.counted(self._pace_key(item.outbound)) if batch is not None else 0
        started = time.monotonic()
        try:
            result = await adapter.send(item.outbound)
        except Exception as exc:  # an adapter bug must not stop delivery of everything else
            log.exception("outbox %s: adapter raised", item.id)
            result = SendResult(SendStatus.RETRY, error=type(exc).__name__)
        self._answered = True
        try:
            if result.status is SendStatus.RETRY and result.retry_after:
                with batch.holding() if batch is not None else contextlib.nullcontext():
                    await self.db.run(self._hold_back, item.outbound, result.retry_after)
            elif self._slow(item.outbound, time.monotonic() - started, batch, counted):
                # A send slower than half the pace (a new connection, a hiccup) reached the provider late: count the
                # next one from now, or the ones queued behind it would arrive bunched together.
                await self.db.run(self._hold_back, item.outbound, 0.0)
        finally:
            await self._record(item, result)
            if batch is not None:
                batch.unsettled.pop(item.id, None)  # recorded: never handed back

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

    def _slow(self, outbound: Outbound, seconds: float, batch: Batch | None, counted: int) -> bool:
        """A send slower than half its pace's interval, after which the next must count from now. Not when the batch
        has counted a later place in that pace since this send left (overlapping sends: those after it were paced on
        their own), nor while its latest place lies ahead of now (holding back by nothing would change nothing)."""
        demands = self.limits(outbound)
        if not demands or seconds <= 0.5 / demands[0][0].per_second:
            return False
        key = demands[0][0].key
        return batch is None or (batch.counted(key) == counted and not batch.paced_beyond(key, self.clock.now()))

    def _pace_key(self, outbound: Outbound) -> str:
        demands = self.limits(outbound)
        return demands[0][0].key if demands else ""

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
        """Finish the messages in hand, hand the rest of the batch back, and leave run_forever."""
        self.stopping = True
        self.wake.set()

    async def run_forever(self, idle_seconds: float = 2.0) -> None:
        """Drain the outbox, then sleep until woken (by a commit or the scheduler's tick), until stop()."""
        self.stopping = False
        for adapter in self.adapters.values():
            warm = getattr(adapter, "warm", None)
            if warm is not None:  # connections for the sends in flight, one opened now: the first send is not late
                await warm(self.in_flight)
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
