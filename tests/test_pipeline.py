"""The pipeline on a real database: store first, dedupe, consent, STOP everywhere, sessions and versions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.messages import Channel, Outbound, SendResult, SendStatus
from bot.runtime import Runtime
from bot.store.models import Address, ConsentEvent, ConversationSession, Message, OutboxItem, Resident
from tests.support.chat import Chat

PHONE = "+14155550100"


def resident_of(runtime: Runtime, channel: Channel, value: str) -> Resident:
    with runtime.db.transaction() as session:
        address = session.scalars(select(Address).where(Address.channel == channel.value, Address.value == value)).one()
        return address.resident


def onboard(chat: Chat) -> None:
    chat.send("hi")
    chat.send("1")
    chat.send("yes")
    chat.send("SKIP")


def test_a_message_is_kept_even_when_handling_it_fails(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat()
    resident.send("hi")
    with runtime.db.transaction() as session:
        row = session.scalars(select(ConversationSession)).one()
        row.node = "a_node_that_no_longer_exists"
    assert resident.send("1", provider_id="SMkept") == []
    with runtime.db.transaction() as session:
        kept = session.scalars(select(Message).where(Message.provider_id == "SMkept")).one()
        assert (kept.text, kept.status, kept.direction) == ("1", "error", "in")


def test_a_duplicate_provider_id_has_no_second_effect(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat()
    assert resident.send("hi", provider_id="SM1")
    assert resident.send("1", provider_id="SM2")
    assert resident.send("1", provider_id="SM2") == []
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 2
        assert session.scalars(select(ConversationSession)).one().node == "ask_consent"


def test_stop_works_at_once_on_every_channel_of_the_resident(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    sms = chat()
    onboard(sms)
    resident = resident_of(runtime, Channel.SMS, PHONE)
    with runtime.db.transaction() as session:
        session.add(
            Address(
                resident_id=resident.id, channel="telegram", value="777", reachable=True, created_at=runtime.clock.now()
            )
        )
    telegram = chat(Channel.TELEGRAM, "777")
    assert telegram.send("MENU")  # queued in the outbox for the delivery worker
    stop = sms.texts("Stop!")
    assert len(stop) == 1
    assert "unsubscribed" in stop[0]
    with runtime.db.transaction() as session:
        statuses = session.scalars(select(OutboxItem.status).where(OutboxItem.channel == "telegram")).all()
        assert statuses == ["cancelled"]
        assert session.get(Resident, resident.id).consent == "revoked"  # type: ignore[union-attr]
    assert telegram.send("hello") == []
    assert sms.send("1") == []
    assert telegram.send("HELP")  # HELP is always answered
    assert "subscribed" in sms.texts("START")[0]


def test_consent_history_is_kept(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat()
    onboard(resident)
    resident.send("STOP")
    resident.send("UNSTOP")
    with runtime.db.transaction() as session:
        events = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
        assert [(e.state, e.source, e.channel) for e in events] == [
            ("granted", "onboarding", "sms"),
            ("revoked", "opt_out", "sms"),
            ("granted", "opt_in", "sms"),
        ]
        assert all(e.message_id for e in events)


def test_someone_who_declines_gets_nothing_more_unless_they_write_again(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    resident = chat()
    resident.send("hi")
    resident.send("1")
    goodbye = resident.texts("no")
    assert len(goodbye) == 1
    assert "will not send you messages" in goodbye[0]
    assert resident_of(runtime, Channel.SMS, PHONE).consent == "declined"
    again = resident.texts("hello again")
    assert "Choose your language" in again[0]


def test_twilio_advanced_opt_out_already_answered_so_we_stay_silent(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    resident = chat()
    onboard(resident)
    from bot.messages import Address as Addr
    from bot.messages import Inbound

    inbound = Inbound(Addr(Channel.SMS, PHONE), "STOP", "SMoptout", runtime.clock.now(), raw={"OptOutType": "STOP"})
    handled = runtime.pipeline.handle(inbound, reply_inline=True, provider_replied=True)
    assert handled.immediate == []
    assert resident_of(runtime, Channel.SMS, PHONE).consent == "revoked"


def test_telegram_language_code_preselects_the_language(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat(Channel.TELEGRAM, "42", language_hint="es-MX")
    said = resident.send("hola")
    assert [label for _, label in said[0].buttons] == [
        "English",
        "Español",
        "中文",
        "Tiếng Việt",
        "العربية",
        "Français",
    ]
    assert [value for value, _ in said[0].buttons] == ["en", "es", "zh_Hans", "vi", "ar", "fr"]
    assert resident_of(runtime, Channel.TELEGRAM, "42").locale == "es"


def test_a_session_keeps_the_flow_version_it_started_on(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    early = chat(address="+14155550101")
    early.send("hi")
    from bot.conversation.flows.loader import builtin_documents

    document = builtin_documents()["onboarding"]
    document["nodes"]["ask_consent"]["text"] = {"*": "NEW consent wording"}
    with runtime.db.transaction() as session:
        version = runtime.flows.store(session, document, runtime.clock)
    assert version.version == 2
    assert "NEW consent wording" not in early.texts("1")[0]
    late = chat(address="+14155550102")
    late.send("hi")
    assert late.texts("1")[0].startswith("NEW consent wording")


class FakeProvider:
    """A provider stand-in that answers with scripted results and records what it was asked to send."""

    def __init__(self, channel: Channel, *results: SendResult) -> None:
        self.channel = channel
        self.results = list(results)
        self.sent: list[Outbound] = []

    async def send(self, outbound: Outbound) -> SendResult:
        self.sent.append(outbound)
        return self.results.pop(0) if self.results else SendResult(SendStatus.SENT, provider_id=f"P{len(self.sent)}")


def deliver(runtime: Runtime, provider: FakeProvider) -> int:
    """One delivery sweep at noon UTC tomorrow: after everything queued now, and outside quiet hours."""
    from bot.clock import FixedClock
    from bot.delivery.worker import DeliveryWorker

    noon = (runtime.clock.now() + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    worker = DeliveryWorker(runtime.db, {provider.channel: provider}, FixedClock(at=noon))
    worker.sleep = _no_sleep
    return asyncio.run(worker.run_once())


async def _no_sleep(_seconds: float) -> None:
    """Pacing waits are for real providers; these sweeps only check what is sent."""


def test_the_worker_sends_queued_replies_and_records_the_provider_id(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    resident = chat(Channel.TELEGRAM, "42")
    resident.send("hi")
    provider = FakeProvider(Channel.TELEGRAM)
    assert deliver(runtime, provider) == 1
    assert provider.sent[0].choices[1].label == "Español"
    assert deliver(runtime, provider) == 0
    with runtime.db.transaction() as session:
        item = session.scalars(select(OutboxItem)).one()
        assert item.status == "sent"
        message = session.get(Message, item.message_id)
        assert message is not None
        assert (message.direction, message.provider_id) == ("out", "P1")


def test_the_worker_retries_later_and_classifies_permanent_failures(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    first, second = chat(Channel.TELEGRAM, "42"), chat(Channel.TELEGRAM, "43")
    first.send("hi")
    provider = FakeProvider(Channel.TELEGRAM, SendResult(SendStatus.RETRY, retry_after=30))
    deliver(runtime, provider)
    with runtime.db.transaction() as session:
        item = session.scalars(select(OutboxItem)).one()
        assert item.status == "pending"
        assert item.not_before >= runtime.clock.now() + timedelta(seconds=29)
    second.send("hi")
    blocked = FakeProvider(Channel.TELEGRAM, SendResult(SendStatus.FAILED, error_code="403", unreachable=True))
    assert deliver(runtime, blocked) == 1  # only the due one: the first waits for its retry time
    with runtime.db.transaction() as session:
        address = session.scalars(select(Address).where(Address.value == "43")).one()
        assert address.reachable is False
    second.send("MENU")
    assert deliver(runtime, FakeProvider(Channel.TELEGRAM)) == 0  # unreachable: skipped, not sent
    with runtime.db.transaction() as session:
        statuses = session.scalars(select(OutboxItem.status).order_by(OutboxItem.id)).all()
        assert statuses == ["pending", "failed", "skipped"]


def queue_notice(session: Session, resident_id: int, key: str, now: datetime) -> None:
    """A non-conversational message for the resident, as a broadcast would queue it."""
    session.add(
        OutboxItem(
            idempotency_key=key,
            purpose="notice",
            resident_id=resident_id,
            channel="sms",
            address=PHONE,
            text="Event tomorrow",
            choices={},
            status="pending",
            urgent=False,
            attempts=0,
            not_before=now,
            created_at=now,
        )
    )


def test_consent_is_checked_again_at_send_time(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    sms = chat()
    onboard(sms)
    resident = resident_of(runtime, Channel.SMS, PHONE)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        queue_notice(session, resident.id, "notice:1", now)
        session.get(Resident, resident.id).consent = "revoked"  # type: ignore[union-attr]
    provider = FakeProvider(Channel.SMS)
    deliver(runtime, provider)
    assert provider.sent == []
    with runtime.db.transaction() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == "notice:1")).one()
        assert (item.status, item.last_error) == ("skipped", "resident opted out")


def test_a_provider_opt_out_error_revokes_consent(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    sms = chat()
    onboard(sms)
    resident = resident_of(runtime, Channel.SMS, PHONE)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        queue_notice(session, resident.id, "notice:2", now)
    deliver(runtime, FakeProvider(Channel.SMS, SendResult(SendStatus.FAILED, error_code="21610", opted_out=True)))
    assert resident_of(runtime, Channel.SMS, PHONE).consent == "revoked"


def test_a_worker_whose_claim_ran_out_does_not_record_the_send(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from bot.clock import FixedClock
    from bot.delivery.rules import SendRules
    from bot.delivery.worker import DeliveryWorker

    chat(Channel.TELEGRAM, "42").send("hi")
    start = runtime.clock.now() + timedelta(days=1)
    rules = SendRules(claim_seconds=5)
    slow = DeliveryWorker(
        runtime.db, {Channel.TELEGRAM: FakeProvider(Channel.TELEGRAM)}, FixedClock(at=start), rules=rules
    )
    fresh = DeliveryWorker(
        runtime.db,
        {Channel.TELEGRAM: FakeProvider(Channel.TELEGRAM)},
        FixedClock(at=start + timedelta(seconds=6)),
        rules=rules,
    )
    (first,) = slow.claim()
    (second,) = fresh.claim()  # the first claim ran out: another worker took the row
    assert (first.id, first.attempts, second.attempts) == (second.id, 1, 2)
    slow.finish(first, SendResult(SendStatus.SENT, provider_id="late"))
    fresh.finish(second, SendResult(SendStatus.SENT, provider_id="current"))
    with runtime.db.transaction() as session:
        sent = session.scalars(select(Message.provider_id).where(Message.direction == "out")).all()
        item = session.get(OutboxItem, first.id)
        assert item is not None
    assert sent == ["current"]
    assert (item.status, item.attempts) == ("sent", 2)


def test_a_reused_provider_id_is_still_recorded_as_sent(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    class SameId(FakeProvider):
        async def send(self, outbound: Outbound) -> SendResult:
            self.sent.append(outbound)
            return SendResult(SendStatus.SENT, provider_id="SMaaaa")

    for n in range(3):
        chat(Channel.TELEGRAM, f"5{n}").send("hi")
    provider = SameId(Channel.TELEGRAM)
    assert deliver(runtime, provider) == 3
    with runtime.db.transaction() as session:
        statuses = session.scalars(select(OutboxItem.status)).all()
        ids = session.scalars(select(Message.provider_id).where(Message.direction == "out")).all()
    assert statuses == ["sent", "sent", "sent"]
    assert (ids.count("SMaaaa"), ids.count(None)) == (1, 2)
