"""STOP wins over messages already claimed by a worker: nothing reaches a resident after their STOP is confirmed.

The worker is the real one; the provider is a stand-in that takes a little time per send and records when each
call started and ended. STOPs go through the same entry point as a Twilio webhook (`handle_inbound`, inline
TwiML confirmation), interleaved with a broadcast being sent, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from datetime import time as clock_time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select

from bot.delivery.gate import Verdict
from bot.delivery.worker import DeliveryWorker
from bot.engagement.broadcasts.audiences import parse_audience
from bot.engagement.broadcasts.sending import BroadcastFile, enqueue
from bot.messages import Address, Channel, Inbound, Outbound, SendResult, SendStatus
from bot.runtime import Runtime, send_rules
from bot.store.models import Address as AddressRow
from bot.store.models import OutboxItem, Resident
from bot.store.outbox import cancel_unsent
from bot.web.webhooks.inbound import handle_inbound
from tests.support.examples import examples

NUMBERS = itertools.count(1_000_000)
NOTICE = BroadcastFile("Clinic news", {"en": "The clinic opens at 9 on Saturday."}, {}, True)


@dataclass
class SlowProvider:
    """A provider stand-in: each send takes `latency` seconds (plus jitter); every call is recorded."""

    latency: float = 0.004
    calls: list[tuple[str, float, float]] = field(default_factory=list)  # (to, started, ended)
    gate: asyncio.Event | None = None  # when set, sends wait for it

    async def send(self, outbound: Outbound) -> SendResult:
        started = time.monotonic()
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(self.latency * random.uniform(0.5, 1.5))
        self.calls.append((outbound.address.value, started, time.monotonic()))
        return SendResult(SendStatus.SENT, provider_id=f"SM{next(NUMBERS):032d}")


def _residents(runtime: Runtime, count: int) -> list[str]:
    """Residents who joined, each with an SMS number of their own; the only ones (an example of a property test
    starts from nobody, on the database the test's examples share)."""
    now = datetime.now(UTC)
    numbers = [f"+1415{next(NUMBERS):07d}" for _ in range(count)]
    with runtime.db.transaction() as session:
        session.execute(delete(Resident))
        for number in numbers:
            resident = Resident(locale="en", consent="granted", fields={}, created_at=now, updated_at=now)
            session.add(resident)
            session.flush()
            session.execute(
                insert(AddressRow),
                {"resident_id": resident.id, "channel": "sms", "value": number, "reachable": True, "created_at": now},
            )
    return numbers


def _broadcast(runtime: Runtime) -> str:
    now = datetime.now(UTC)
    with runtime.db.transaction() as session:
        broadcast, _count = enqueue(session, NOTICE, parse_audience(""), "en", now, now)
        return f"broadcast:{broadcast.id}"


def _worker(runtime: Runtime, provider: SlowProvider, batch: int = 50) -> DeliveryWorker:
    # Never quiet, no cap, a short code's pace: only consent decides who gets the message.
    rules = replace(
        send_rules(runtime.settings),
        quiet_start=clock_time(0),
        quiet_end=clock_time(0),
        cap=0,
        sms_segments_per_second=1000.0,
    )
    return DeliveryWorker(runtime.db, {Channel.SMS: provider}, runtime.clock, batch=batch, rules=rules)  # type: ignore[dict-item]


def _stop(number: str) -> Inbound:
    return Inbound(Address(Channel.SMS, number), "STOP", f"SMstop{next(NUMBERS)}", datetime.now(UTC))


def _statuses(runtime: Runtime, purpose: str) -> dict[str, str]:
    with runtime.db.transaction() as session:
        rows = session.execute(select(OutboxItem.address, OutboxItem.status).where(OutboxItem.purpose == purpose))
        return {address: status for address, status in rows}


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stops=st.lists(st.tuples(st.integers(0, 11), st.floats(0, 0.06)), min_size=1, max_size=6),
    batch=st.sampled_from([3, 50]),
)
def test_no_message_reaches_a_resident_after_their_stop_is_confirmed(
    runtime: Runtime, stops: list[tuple[int, float]], batch: int
) -> None:
    numbers = _residents(runtime, 12)
    purpose = _broadcast(runtime)
    provider = SlowProvider()
    worker = _worker(runtime, provider, batch)
    confirmed: dict[str, float] = {}
    began: dict[str, float] = {}

    async def say_stop(number: str, after: float) -> None:
        await asyncio.sleep(after)
        began[number] = time.monotonic()
        handled = await handle_inbound(runtime, _stop(number), reply_inline=True)
        assert handled.opted_out and handled.immediate, handled
        confirmed[number] = min(confirmed.get(number, float("inf")), time.monotonic())

    async def scenario() -> None:
        async def send_all() -> None:
            while await worker.run_once():
                pass

        await asyncio.gather(send_all(), *(say_stop(numbers[i], after) for i, after in stops))
        await send_all()

    asyncio.run(scenario())

    stopped = {numbers[i] for i, _ in stops}
    calls: dict[str, list[tuple[float, float]]] = {}
    for to, started, ended in provider.calls:
        calls.setdefault(to, []).append((started, ended))
    late = {
        number: (began[number], confirmed[number], calls.get(number))
        for number in stopped
        if any(ended > confirmed[number] for _, ended in calls.get(number, []))
    }
    assert not late, f"messages arrived after the STOP was confirmed: {late}"
    # Everyone else got the broadcast exactly once; a resident who stopped, at most once (before the STOP).
    assert all(len(calls.get(number, [])) == 1 for number in numbers if number not in stopped), calls
    assert all(len(calls.get(number, [])) <= 1 for number in stopped), calls
    statuses = _statuses(runtime, purpose)
    assert {statuses[n] for n in stopped} <= {"sent", "cancelled"}
    assert all(statuses[n] == ("sent" if calls.get(n) else "cancelled") for n in stopped), statuses


def test_a_stop_cancels_rows_a_worker_has_claimed_but_not_sent(runtime: Runtime) -> None:
    numbers = _residents(runtime, 4)
    purpose = _broadcast(runtime)
    provider = SlowProvider()
    worker = _worker(runtime, provider)
    claimed = worker.claim()  # all four are "sending" now, in this worker's hands
    assert len(claimed) == 4

    async def scenario() -> None:
        await handle_inbound(runtime, _stop(numbers[2]), reply_inline=True)
        for item in claimed:
            assert await worker._deliver(item)

    asyncio.run(scenario())
    assert sorted(to for to, _, _ in provider.calls) == sorted(numbers[:2] + numbers[3:])
    assert _statuses(runtime, purpose)[numbers[2]] == "cancelled"


def test_a_stop_confirmation_waits_for_the_message_in_the_providers_hands(runtime: Runtime) -> None:
    (number,) = _residents(runtime, 1)
    purpose = _broadcast(runtime)
    provider = SlowProvider()
    worker = _worker(runtime, provider)
    events: list[str] = []

    async def scenario() -> None:
        provider.gate = asyncio.Event()
        sending = asyncio.create_task(worker.run_once())
        while not await runtime.db.run(_in_flight, runtime):  # the send is past the last check
            await asyncio.sleep(0.005)
        stopping = asyncio.create_task(handle_inbound(runtime, _stop(number), reply_inline=True))
        await asyncio.sleep(0.2)
        events.append("stop still waiting" if not stopping.done() else "stop answered early")
        provider.gate.set()
        handled = await stopping
        events.append("stop answered")
        assert handled.opted_out and handled.immediate, handled
        await sending

    asyncio.run(scenario())
    assert events == ["stop still waiting", "stop answered"]
    (to, _started, _ended), *_ = provider.calls
    assert to == number
    assert _statuses(runtime, purpose)[number] == "sent"


def _in_flight(runtime: Runtime) -> bool:
    with runtime.db.transaction() as session:
        return session.scalar(select(OutboxItem.id).where(OutboxItem.in_flight_at.is_not(None))) is not None


def test_a_telegram_stop_confirmation_goes_after_the_message_in_flight(runtime: Runtime) -> None:
    """On Telegram the confirmation is itself an outbox row: the last check holds it back while another message
    to the same resident is in a provider's hands."""
    (number,) = _residents(runtime, 1)
    _broadcast(runtime)
    provider = SlowProvider()
    worker = _worker(runtime, provider)

    async def scenario() -> None:
        provider.gate = asyncio.Event()
        sending = asyncio.create_task(worker.run_once())
        while not await runtime.db.run(_in_flight, runtime):
            await asyncio.sleep(0.005)
        # STOP queued as a reply (not inline), as on Telegram: its confirmation row goes through the gate.
        await handle_inbound(runtime, _stop(number), reply_inline=False)
        confirmation = worker.claim()
        assert [c.outbound.text for c in confirmation]
        for item in confirmation:
            assert await worker._deliver(item)  # held back: not sent while the broadcast is in flight
        assert [to for to, _, _ in provider.calls] == []
        provider.gate.set()
        await sending
        await asyncio.sleep(0.25)
        while await worker.run_once():
            pass

    asyncio.run(scenario())
    order = [to for to, _, _ in provider.calls]
    assert order == [number, number], order  # the broadcast, then the STOP confirmation


def test_a_stop_and_the_last_check_take_their_locks_in_one_order(runtime: Runtime) -> None:
    """A STOP's transaction (resident locked, then the outbox rows cancelled) and a worker's last check on one of
    those rows, at the same moment: the check waits for the STOP and finds the row cancelled. Taken in the other
    order (row, then resident) the two deadlock on PostgreSQL and the row is handed back and claimed again."""
    (number,) = _residents(runtime, 1)
    purpose = _broadcast(runtime)
    worker = _worker(runtime, SlowProvider())
    (claimed,) = worker.claim()
    stop_holds_resident, verdicts = threading.Event(), []

    def stop_transaction() -> None:
        with runtime.db.transaction() as session:
            resident_id = session.scalars(select(AddressRow.resident_id).where(AddressRow.value == number)).one()
            lock = False if runtime.db.is_sqlite else {"key_share": True}
            resident = session.get(Resident, resident_id, with_for_update=lock)
            assert resident is not None
            resident.consent = "revoked"
            stop_holds_resident.set()
            time.sleep(0.3)  # the last check starts now and must wait for this transaction
            cancel_unsent(session, resident_id, datetime.now(UTC))

    def last_check() -> None:
        stop_holds_resident.wait()
        verdicts.append(worker._gate(claimed))

    threads = [threading.Thread(target=stop_transaction), threading.Thread(target=last_check)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert verdicts == [Verdict.SETTLED]
    assert _statuses(runtime, purpose)[number] == "cancelled"
