"""One delivery worker with several sends in a provider's hands at once: bounded, in order per address, stopped
cleanly, undisturbed by one failing send, held back together by a 429, and with connections for each send.

The worker and the database are real (SQLite, and PostgreSQL when LOOPLINE_TEST_POSTGRES_URL is set); the provider is
a stand-in whose every send takes 50 ms. The pace is the test's clock, moved on by the worker's waits, so that only
the in-flight bound and the provider's latency decide how many sends overlap.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qsl

from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.delivery.worker import DeliveryWorker
from bot.messages import Channel, Outbound, SendResult, SendStatus
from bot.runtime import Runtime, send_rules
from bot.store.models import OutboxItem
from tests.conftest import TWILIO_ENV, make_settings
from tests.test_stop_wins import _broadcast, _residents

LATENCY = 0.05
SIDS = itertools.count(1)


@dataclass
class Provider:
    """Every send takes LATENCY seconds; records who got what, when (real and test clock), and how many were open."""

    clock: FixedClock
    answer: Callable[[Outbound], SendResult | None] = lambda _outbound: None  # None: accepted
    on_start: Callable[[Provider], None] = lambda _provider: None
    open: int = 0
    most_open: int = 0
    overlapping: int = 0  # sends that started while another was open
    calls: list[tuple[str, str, float, float, datetime]] = field(default_factory=list)  # to, text, start, end, clock

    async def send(self, outbound: Outbound) -> SendResult:
        started, on_clock = time.monotonic(), self.clock.now()
        self.overlapping += self.open > 0
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        self.on_start(self)
        try:
            await asyncio.sleep(LATENCY)
        finally:
            self.open -= 1
        self.calls.append((outbound.address.value, outbound.text, started, time.monotonic(), on_clock))
        answer = self.answer(outbound)
        if answer is not None:
            return answer
        return SendResult(SendStatus.SENT, provider_id=f"SM{next(SIDS):032d}")


def _worker(runtime: Runtime, provider: Provider, in_flight: int, batch: int = 50) -> DeliveryWorker:
    # Never quiet, no cap, and a pace far above what 50 ms sends allow: the bound and the latency decide.
    rules = replace(
        send_rules(runtime.settings),
        quiet_start=clock_time(0),
        quiet_end=clock_time(0),
        cap=0,
        sms_segments_per_second=1000.0,
    )
    worker = DeliveryWorker(
        runtime.db,
        {Channel.SMS: provider},  # type: ignore[dict-item]
        provider.clock,
        batch=batch,
        rules=rules,
        in_flight=in_flight,
    )

    async def advance(seconds: float) -> None:  # waiting for the pace, on the test's clock
        provider.clock.at += timedelta(seconds=seconds)

    worker.sleep = advance
    return worker


def _queue(runtime: Runtime, addresses: list[str], at: datetime) -> None:
    """Replies to these numbers (one row each, in this order), due at `at`."""
    with runtime.db.transaction() as session:
        for n, address in enumerate(addresses):
            session.add(
                OutboxItem(
                    idempotency_key=f"in-flight:{n}",
                    purpose="reply",
                    resident_id=None,
                    channel="sms",
                    address=address,
                    text=f"message {n}",
                    choices={},
                    status="pending",
                    urgent=False,
                    attempts=0,
                    not_before=at,
                    created_at=at,
                )
            )


def _rows(runtime: Runtime) -> list[tuple[str, str, int, datetime | None, str | None]]:
    with runtime.db.transaction() as session:
        return [
            (address, status, attempts, claimed_until, last_error)
            for address, status, attempts, claimed_until, last_error in session.execute(
                select(
                    OutboxItem.address,
                    OutboxItem.status,
                    OutboxItem.attempts,
                    OutboxItem.claimed_until,
                    OutboxItem.last_error,
                ).order_by(OutboxItem.id)
            )
        ]


def _by_status(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(select(OutboxItem.status, func.count()).group_by(OutboxItem.status)).all()
        return {status: int(n) for status, n in rows}


def test_sends_overlap_up_to_the_bound(runtime: Runtime) -> None:
    numbers = _residents(runtime, 40)
    _broadcast(runtime)
    provider = Provider(FixedClock(at=datetime.now(UTC)))
    worker = _worker(runtime, provider, in_flight=6)
    assert asyncio.run(worker.run_once()) == 40
    assert 1 < provider.most_open <= 6
    # One at a time, 40 sends of 50 ms take two seconds; here nearly every send started while others were open.
    assert provider.overlapping >= 30, provider.overlapping
    assert sorted(to for to, *_ in provider.calls) == sorted(numbers)
    assert _by_status(runtime) == {"sent": 40}


def test_one_at_a_time_when_the_bound_is_one(runtime: Runtime) -> None:
    _residents(runtime, 5)
    _broadcast(runtime)
    provider = Provider(FixedClock(at=datetime.now(UTC)))
    assert asyncio.run(_worker(runtime, provider, in_flight=1).run_once()) == 5
    assert (provider.most_open, provider.overlapping) == (1, 0)
    assert _by_status(runtime) == {"sent": 5}


def test_messages_to_one_address_keep_their_order(runtime: Runtime) -> None:
    start = datetime.now(UTC)
    # Six messages to one number among messages to others, over two claims of 7 rows.
    order = ["+14155550001", "+14155550002", "+14155550001", "+14155550003", "+14155550004"] * 2 + [
        "+14155550001",
        "+14155550005",
        "+14155550001",
        "+14155550006",
    ]
    _queue(runtime, order, start)
    provider = Provider(FixedClock(at=start))
    worker = _worker(runtime, provider, in_flight=8, batch=7)
    assert asyncio.run(worker.run_once()) == len(order)
    assert _by_status(runtime) == {"sent": len(order)}
    assert provider.most_open > 1  # the others did overlap
    for number in set(order):
        mine = [(text, started, ended) for to, text, started, ended, _ in provider.calls if to == number]
        expected = [f"message {n}" for n, to in enumerate(order) if to == number]
        assert [text for text, *_ in sorted(mine, key=lambda call: call[1])] == expected
        # Each one left only once the one before had been answered.
        assert all(later[1] >= earlier[2] for earlier, later in itertools.pairwise(sorted(mine, key=lambda c: c[1])))


def test_stopping_mid_batch_finishes_the_sends_in_hand_and_hands_the_rest_back(runtime: Runtime) -> None:
    numbers = _residents(runtime, 30)
    _broadcast(runtime)
    clock = FixedClock(at=datetime.now(UTC))
    open_at_stop: list[int] = []

    def stop_when_three_are_open(provider: Provider) -> None:
        if provider.open == 3 and not open_at_stop:
            open_at_stop.append(provider.open)
            worker.stop()  # SIGTERM while three messages are with the provider

    provider = Provider(clock, on_start=stop_when_three_are_open)
    worker = _worker(runtime, provider, in_flight=8)
    asyncio.run(worker.run_forever())  # returns once stopped
    sent = [to for to, *_ in provider.calls]
    assert open_at_stop == [3] and len(sent) >= 3
    assert len(sent) == len(set(sent))  # none twice
    rows = _rows(runtime)
    assert {status for _, status, *_ in rows} == {"sent", "pending"}
    assert sorted(address for address, status, *_ in rows if status == "sent") == sorted(sent)
    # The rest are due again now, for any worker, as if never claimed.
    back = [(attempts, until) for _, status, attempts, until, _ in rows if status == "pending"]
    assert len(back) == len(numbers) - len(sent) and all(row == (0, None) for row in back), back


def test_a_failing_send_does_not_disturb_the_others(runtime: Runtime) -> None:
    numbers = _residents(runtime, 20)
    _broadcast(runtime)
    broken, busy = numbers[3], numbers[7]

    def answer(outbound: Outbound) -> SendResult | None:
        if outbound.address.value == broken:
            raise RuntimeError("adapter bug")
        if outbound.address.value == busy:
            return SendResult(SendStatus.RETRY, error_code="30001", error="queue overflow")
        return None

    provider = Provider(FixedClock(at=datetime.now(UTC)), answer=answer)
    assert asyncio.run(_worker(runtime, provider, in_flight=5).run_once()) == 20
    assert provider.most_open > 1
    rows = {address: (status, attempts, until, error) for address, status, attempts, until, error in _rows(runtime)}
    assert rows.pop(broken) == ("pending", 1, None, "RuntimeError")  # tried again later (backoff)
    assert rows.pop(busy) == ("pending", 1, None, "queue overflow")
    assert {status for status, *_ in rows.values()} == {"sent"}
    assert len(provider.calls) == 20


def test_a_429_holds_back_the_rows_not_yet_sent(runtime: Runtime) -> None:
    _residents(runtime, 16)
    _broadcast(runtime)
    clock = FixedClock(at=datetime.now(UTC))
    answered: list[datetime] = []

    def answer(outbound: Outbound) -> SendResult | None:
        if not answered:
            answered.append(clock.now())
            return SendResult(SendStatus.RETRY, retry_after=5.0, error_code="20429", error="Too Many Requests")
        return None

    provider = Provider(clock, answer=answer)
    assert asyncio.run(_worker(runtime, provider, in_flight=4).run_once()) == 16
    # The first answer is the 429; the three sent beside it were already in the provider's hands. Every row after
    # them waited for the hold.
    (refused_at,) = answered
    later = sorted(on_clock for *_, on_clock in provider.calls[1:])
    assert sum(on_clock < refused_at + timedelta(seconds=5) for on_clock in later) <= 3
    assert len(later) == 15 and later[-1] >= refused_at + timedelta(seconds=5)
    assert _by_status(runtime) == {"sent": 15, "pending": 1}


class SlowTwilio(BaseHTTPRequestHandler):
    """Twilio's REST API on 127.0.0.1, 200 ms an answer (enough for 12 at once, even with PostgreSQL's round trips
    before each send): accepts every message, answers the account read (warm-up)."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the Twilio client's session expects
    disable_nagle_algorithm = True  # the body is a second write: it must not wait for the client's delayed ACK
    latency = 0.5  # long enough for all 12 to overlap on a busy machine
    lock = threading.Lock()
    open = most_open = accepted = 0
    connections: ClassVar[set[int]] = set()  # the client ports requests came from: one per connection

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self, status: int, document: dict[str, str]) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(200, {"sid": TWILIO_ENV["LOOPLINE_TWILIO_ACCOUNT_SID"], "status": "active"})

    def do_POST(self) -> None:
        form = dict(parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
        cls = type(self)
        with cls.lock:
            cls.connections.add(self.client_address[1])
            cls.open += 1
            cls.most_open = max(cls.most_open, cls.open)
        time.sleep(cls.latency)
        with cls.lock:
            cls.open -= 1
            cls.accepted += 1
            sid = f"SM{cls.accepted:032d}"
        self._answer(201, {"sid": sid, "status": "queued", "to": form["To"], "body": form["Body"]})


def test_sends_through_twilio_overlap_on_connections_kept_open(database_url: str) -> None:
    """The real Twilio adapter (its blocking client in threads) against a slow local API: 12 sends at once, more
    than the 10 connections requests keeps by default. Two broadcasts one after the other: the second finds every
    connection of the first kept open (by default those beyond 10 would have been closed when the first one ended)."""
    SlowTwilio.open = SlowTwilio.most_open = SlowTwilio.accepted = 0
    SlowTwilio.connections = set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowTwilio)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="slow-twilio", daemon=True).start()
    runtime = Runtime(make_settings(database_url, LOOPLINE_TWILIO_API_BASE=f"http://127.0.0.1:{server.server_port}"))
    try:
        runtime.prepare(migrate=True)
        _residents(runtime, 12)
        rules = replace(send_rules(runtime.settings), quiet_start=clock_time(0), quiet_end=clock_time(0), cap=0)
        rules = replace(rules, sms_segments_per_second=1000.0)
        assert runtime.twilio is not None
        worker = DeliveryWorker(runtime.db, {Channel.SMS: runtime.twilio}, runtime.clock, rules=rules, in_flight=12)

        async def broadcasts() -> None:
            for sent in (12, 24):
                _broadcast(runtime)
                while _by_status(runtime).get("sent", 0) < sent:
                    await asyncio.sleep(0.05)
            worker.stop()

        async def scenario() -> None:
            await asyncio.wait_for(asyncio.gather(worker.run_forever(idle_seconds=0.05), broadcasts()), 60)

        asyncio.run(scenario())
        assert _by_status(runtime) == {"sent": 24}
        assert SlowTwilio.accepted == 24
        assert 10 < SlowTwilio.most_open <= 12
        # No connection was opened that was not needed at once: the second broadcast found the first one's kept open
        # (on a busy machine fewer than 12 may be open at once; then fewer are made).
        assert len(SlowTwilio.connections) == SlowTwilio.most_open
    finally:
        runtime.close()
        server.shutdown()
        server.server_close()
