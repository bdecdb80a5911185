"""A delivery worker's claims: renewed while it works through a long batch, handed back at once when it stops."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.delivery.worker import DeliveryWorker
from bot.messages import Channel, Outbound, SendResult, SendStatus
from bot.runtime import Runtime, send_rules
from bot.store.models import OutboxItem
from tests.test_stop_wins import _broadcast, _residents


def _worker(runtime: Runtime, clock: FixedClock, per_second: float, claim_seconds: float) -> DeliveryWorker:
    rules = replace(
        send_rules(runtime.settings),
        quiet_start=clock_time(0),
        quiet_end=clock_time(0),
        cap=0,
        sms_segments_per_second=per_second,
        claim_seconds=claim_seconds,
    )
    worker = DeliveryWorker(runtime.db, {}, clock, rules=rules)

    async def advance(seconds: float) -> None:  # waiting for the pace, on the test's clock
        clock.at += timedelta(seconds=seconds)

    worker.sleep = advance
    return worker


def _by_status(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all()
        return {status: int(n) for status, n in rows}


def test_a_live_worker_keeps_its_batch_while_a_slow_pace_outlasts_its_claim(runtime: Runtime) -> None:
    numbers = _residents(runtime, 6)
    _broadcast(runtime)
    clock = FixedClock(at=datetime.now(UTC))
    started = clock.at
    # One message every 10 s: the batch of six takes a minute, twice the 30 s claim.
    worker = _worker(runtime, clock, per_second=0.1, claim_seconds=30)
    rival = _worker(runtime, clock, per_second=0.1, claim_seconds=30)
    sent: list[str] = []
    rival_took: list[int] = []

    class Provider:
        async def send(self, outbound: Outbound) -> SendResult:
            sent.append(outbound.address.value)
            rival_took.append(len(rival.claim()))  # another worker, looking for rows whose claim ran out
            return SendResult(SendStatus.SENT, provider_id=f"SM{len(sent):032d}")

    worker.adapters = rival.adapters = {Channel.SMS: Provider()}  # type: ignore[dict-item]
    assert asyncio.run(worker.run_once()) == 6
    assert (clock.at - started).total_seconds() >= 50
    assert sorted(sent) == sorted(numbers) and rival_took == [0] * 6
    assert _by_status(runtime) == {"sent": 6}


def test_a_stopping_worker_sends_the_message_in_hand_and_hands_the_rest_back_at_once(runtime: Runtime) -> None:
    _residents(runtime, 8)
    _broadcast(runtime)
    clock = FixedClock(at=datetime.now(UTC))
    worker = _worker(runtime, clock, per_second=100.0, claim_seconds=120)
    sent: list[str] = []

    class Provider:
        async def send(self, outbound: Outbound) -> SendResult:
            sent.append(outbound.address.value)
            if len(sent) == 3:
                worker.stop()  # SIGTERM arrives while the third message is with the provider
            return SendResult(SendStatus.SENT, provider_id=f"SM{len(sent):032d}")

    worker.adapters = {Channel.SMS: Provider()}  # type: ignore[dict-item]
    asyncio.run(worker.run_forever())  # returns once stopped
    assert len(sent) == 3
    assert _by_status(runtime) == {"sent": 3, "pending": 5}
    with runtime.db.transaction() as session:
        back = session.execute(
            select(OutboxItem.attempts, OutboxItem.claimed_until, OutboxItem.not_before).where(
                OutboxItem.status == "pending"
            )
        ).all()
    # Due again now, for any worker, as if never claimed.
    assert all(attempts == 0 and until is None and due <= clock.at for attempts, until, due in back), back
