"""Pacing shared through the database: Telegram overall and per chat, SMS segments per sender, 429s obeyed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.clock import FixedClock
from bot.delivery.ratelimit import Limit, hold_back, reserve
from bot.delivery.rules import SendRules
from bot.delivery.worker import DeliveryWorker
from bot.messages import Channel, Outbound, SendResult, SendStatus
from bot.runtime import Runtime
from bot.store.models import OutboxItem

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


def test_a_bucket_allows_a_burst_then_paces(runtime: Runtime) -> None:
    limit = Limit("test", per_second=2.0, burst=2.0)
    with runtime.db.transaction() as session:
        waits = [reserve(session, [(limit, 1.0)], START) for _ in range(5)]
    assert waits == [0.0, 0.0, 0.5, 1.0, 1.5]
    with runtime.db.transaction() as session:
        assert reserve(session, [(limit, 1.0)], START + timedelta(seconds=10)) == 0.0  # refilled, up to the burst
        hold_back(session, limit, 5.0, START + timedelta(seconds=10))
        assert reserve(session, [(limit, 1.0)], START + timedelta(seconds=10)) == 5.5


class Provider:
    """Accepts everything, and remembers at which (test clock) time each message went out."""

    def __init__(self, channel: Channel, clock: FixedClock, *, first: SendResult | None = None) -> None:
        self.channel, self.clock, self.first = channel, clock, first
        self.times: list[datetime] = []

    async def send(self, outbound: Outbound) -> SendResult:
        if self.first is not None:
            result, self.first = self.first, None
            return result
        self.times.append(self.clock.now())
        return SendResult(SendStatus.SENT, provider_id=f"{self.channel}-{len(self.times)}-{outbound.address.value}")


def queue(runtime: Runtime, channel: Channel, addresses: list[str], text: str = "Hello") -> None:
    with runtime.db.transaction() as session:
        for n, address in enumerate(addresses):
            session.add(
                OutboxItem(
                    idempotency_key=f"t:{n}:{address}",
                    purpose="reply",
                    resident_id=None,
                    channel=channel.value,
                    address=address,
                    text=text,
                    choices={},
                    status="pending",
                    urgent=False,
                    attempts=0,
                    not_before=START,
                    created_at=START,
                )
            )


def drain(runtime: Runtime, provider: Provider, clock: FixedClock, workers: int = 1) -> None:
    """Several workers (as several processes would) share the database and the test clock."""
    rules = SendRules(sms_segments_per_second=1.0, sms_sender="+15005550006")
    crew = [
        DeliveryWorker(runtime.db, {provider.channel: provider}, clock, batch=5, rules=rules) for _ in range(workers)
    ]

    async def wait(seconds: float) -> None:
        clock.at += timedelta(seconds=seconds)

    for worker in crew:
        worker.sleep = wait

    async def run() -> None:
        while sum([await worker.run_once() for worker in crew]):
            pass

    asyncio.run(run())


def test_telegram_is_paced_per_chat_and_overall(runtime: Runtime) -> None:
    clock = FixedClock(at=START)
    provider = Provider(Channel.TELEGRAM, clock)
    queue(runtime, Channel.TELEGRAM, ["42"] * 5)
    drain(runtime, provider, clock, workers=2)
    gaps = [(b - a).total_seconds() for a, b in zip(provider.times, provider.times[1:], strict=False)]
    assert len(provider.times) == 5
    assert min(gaps) >= 1.0  # at most one message a second to one chat, across both workers
    clock.at += timedelta(seconds=60)
    provider.times.clear()
    queue(runtime, Channel.TELEGRAM, [str(1000 + n) for n in range(90)])
    drain(runtime, provider, clock, workers=2)
    elapsed = (provider.times[-1] - provider.times[0]).total_seconds()
    assert len(provider.times) == 90
    assert elapsed >= 89 / 30  # no burst: under 30 a second overall


def test_sms_is_paced_in_segments_per_sender(runtime: Runtime) -> None:
    clock = FixedClock(at=START)
    provider = Provider(Channel.SMS, clock)
    two_segments = "a" * 200  # GSM-7, 2 segments
    queue(runtime, Channel.SMS, [f"+1415555{n:04d}" for n in range(6)], text=two_segments)
    drain(runtime, provider, clock, workers=3)
    elapsed = (provider.times[-1] - provider.times[0]).total_seconds()
    assert len(provider.times) == 6
    assert elapsed >= (6 * 2 - 2) / 1.0  # 12 segments at one a second, after the first message


def test_a_429_holds_back_every_worker(runtime: Runtime) -> None:
    clock = FixedClock(at=START)
    busy = SendResult(SendStatus.RETRY, retry_after=20.0, error_code="429", error="retry after")
    provider = Provider(Channel.TELEGRAM, clock, first=busy)
    queue(runtime, Channel.TELEGRAM, ["7", "8", "9"])
    drain(runtime, provider, clock, workers=2)
    assert len(provider.times) == 3
    assert provider.times[0] >= START + timedelta(seconds=20)  # nothing went out while Telegram said wait
