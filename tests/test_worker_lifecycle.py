"""A delivery worker's claims: renewed while it works through a long batch, handed back at once when it stops or its
bookkeeping fails."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time

from sqlalchemy import func, select, text

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


def test_a_failing_record_stops_the_batch_but_the_sends_in_flight_are_recorded(runtime: Runtime) -> None:
    """The database refuses to record one answer (a trigger, standing in for a failing disk): no new row is taken,
    the sends already with the provider are recorded, the rows not yet attempted go back at once, and the row whose
    record failed is left to its claim's end (it was sent: handing it back would send it twice)."""
    numbers = _residents(runtime, 20)
    _broadcast(runtime)
    broken = numbers[2]
    clock = FixedClock(at=datetime.now(UTC))
    worker = _worker(runtime, clock, per_second=1000.0, claim_seconds=120)
    worker.in_flight = 4
    sent: list[str] = []

    class Provider:
        async def send(self, outbound: Outbound) -> SendResult:
            sent.append(outbound.address.value)
            await asyncio.sleep(0.05)
            return SendResult(SendStatus.SENT, provider_id=f"SM{len(sent):032d}")

    worker.adapters = {Channel.SMS: Provider()}  # type: ignore[dict-item]
    with _refusing_messages_to(runtime, broken):
        assert asyncio.run(worker.run_once()) == 20
    assert sent[:3] == numbers[:3] and len(sent) == len(set(sent)) < 20
    with runtime.db.transaction() as session:
        rows = {address: status for address, status in session.execute(select(OutboxItem.address, OutboxItem.status))}
    assert rows.pop(broken) == "sending"
    assert {number for number, status in rows.items() if status == "sent"} == set(sent) - {broken}
    assert {number for number, status in rows.items() if status == "pending"} == set(numbers) - set(sent)


@contextlib.contextmanager
def _refusing_messages_to(runtime: Runtime, number: str) -> Iterator[None]:
    """While in the block, the database refuses to store a message to that number."""
    if runtime.db.is_sqlite:
        create = [
            f"CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.address = '{number}' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        drop = ["DROP TRIGGER refuse"]
    else:
        create = [
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN IF NEW.address = '{number}' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse()",
        ]
        drop = ["DROP TRIGGER refuse ON messages", "DROP FUNCTION refuse()"]
    with runtime.db.transaction() as session:
        for statement in create:
            session.execute(text(statement))
    try:
        yield
    finally:
        with runtime.db.transaction() as session:
            for statement in drop:
                session.execute(text(statement))
