"""Triage of input items: status path with reasons and history, tags, topic, assignment, and replies to residents."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FixedClock
from bot.delivery.worker import DeliveryWorker
from bot.engagement.feedback import triage
from bot.engagement.feedback.triage import TriageError
from bot.i18n.catalogs import Translator
from bot.messages import Channel, Outbound, SendResult, SendStatus
from bot.program import Program
from bot.runtime import Runtime, send_rules
from bot.staff import accounts
from bot.store.engagement import AuditEvent, InputItem, InputStatusChange
from bot.store.models import OutboxItem, Resident
from tests.conftest import make_settings
from tests.support.chat import Chat
from tests.support.voices import give_feedback, join

PROGRAM = Program("Eastside Health Voices", None, "en")
ACTOR = "user:ana@health.example"
DAYTIME = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    """The test runtime on a clock that stands at 18:00 UTC (daytime: no quiet hours unless a test moves it)."""
    rt = Runtime(make_settings(database_url), clock=FixedClock(at=DAYTIME))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def _item(runtime: Runtime, ref: int) -> InputItem:
    with runtime.db.transaction() as session:
        item = triage.find_item(session, ref)
        session.expunge(item)
        return item


def test_status_moves_along_the_path_with_a_reason_each_time(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    ref = give_feedback(join(chat, Channel.SMS, "+14155550101"), "en", "The bus stop needs a bench", may_contact=True)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        item = triage.find_item(session, ref)
        with pytest.raises(TriageError, match="can move to under review"):
            triage.change_status(session, item, "acted_on", "skipping ahead", ACTOR, now)
        with pytest.raises(TriageError, match="Give a reason"):
            triage.change_status(session, item, "under_review", "   ", ACTOR, now)
        with pytest.raises(TriageError, match="must be one of"):
            triage.change_status(session, item, "done", "why not", ACTOR, now)
        triage.change_status(session, item, "under_review", "Sent to transit  team", ACTOR, now)
        triage.change_status(session, item, "not_adopted", "No budget this year", ACTOR, now + timedelta(hours=1))
        triage.change_status(session, item, "under_review", "Budget found after all", ACTOR, now + timedelta(hours=2))
        triage.change_status(session, item, "acted_on", "Bench ordered", ACTOR, now + timedelta(hours=3))
        with pytest.raises(TriageError, match="can move to under review"):
            triage.change_status(session, item, "not_adopted", "changed our mind", ACTOR, now)
    with runtime.db.transaction() as session:
        item = triage.find_item(session, ref)
        steps = [(c.from_status, c.to_status, c.reason, c.actor) for c in triage.history(session, item)]
        audited = session.scalars(select(AuditEvent).where(AuditEvent.action == "item.status")).all()
        assert item.status == "acted_on"
    assert steps == [
        ("received", "under_review", "Sent to transit team", ACTOR),
        ("under_review", "not_adopted", "No budget this year", ACTOR),
        ("not_adopted", "under_review", "Budget found after all", ACTOR),
        ("under_review", "acted_on", "Bench ordered", ACTOR),
    ]
    assert [(a.subject, a.details["to"]) for a in audited][-1] == (f"item:{ref}", "acted_on")
    assert len(audited) == 4


def test_tags_are_normalised_and_topic_assignment_and_publishing_are_audited(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    ref = give_feedback(join(chat, Channel.SMS, "+14155550102"), "en", "Rent is too high", may_contact=False)
    now = runtime.clock.now()
    assert triage.parse_tags(" Follow  Up, Vivienda,follow up, Café! ") == ["follow-up", "vivienda", "café"]
    with pytest.raises(TriageError):
        triage.normalise_tag("   ")
    # Never refused for what a schema cannot say: signs only are kept as written, a long tag is cut.
    assert (triage.normalise_tag("!!!"), triage.normalise_tag("€"), triage.normalise_tag("x" * 41)) == (
        "!!!",
        "€",
        "x" * 40,
    )
    with runtime.db.transaction() as session:
        user = accounts.create_user(session, "sam@health.example", "a long enough password", "staff", now)
        gone = accounts.create_user(session, "old@health.example", "a long enough password", "staff", now)
        gone.active = False
        item = triage.find_item(session, ref)
        triage.set_tags(session, item, ACTOR, now, add=["Housing", "urgent"])
        triage.set_tags(session, item, ACTOR, now, add=["HOUSING"], remove=["Urgent"])
        with pytest.raises(TriageError, match="at most 12 tags"):
            triage.set_tags(session, item, ACTOR, now, add=[f"t{n}" for n in range(12)])
        triage.set_topic(session, item, "  housing  ", ACTOR, now)
        triage.assign(session, item, user.id, ACTOR, now)
        with pytest.raises(TriageError, match="active user"):
            triage.assign(session, item, gone.id, ACTOR, now)
        triage.set_publishable(session, item, True, ACTOR, now)
    item = _item(runtime, ref)
    assert (item.tags, item.topic, item.publishable) == (["housing"], "housing", True)
    with runtime.db.transaction() as session:
        actions = [a.action for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions == ["item.tags", "item.tags", "item.topic", "item.assign", "item.publishable"]


class Recorder:
    """A provider stand-in that accepts every message."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent: list[Outbound] = []

    async def send(self, outbound: Outbound) -> SendResult:
        self.sent.append(outbound)
        return SendResult(SendStatus.SENT, provider_id=f"{self.channel.value}-{len(self.sent)}")


def drain(runtime: Runtime) -> Recorder:
    """Run the real delivery worker until it has nothing more to do now (SMS through a recorder)."""
    recorder = Recorder(Channel.SMS)
    worker = DeliveryWorker(runtime.db, {Channel.SMS: recorder}, runtime.clock, rules=send_rules(runtime.settings))

    async def no_wait(seconds: float) -> None:
        return None

    worker.sleep = no_wait
    while asyncio.run(worker.run_once()):
        pass
    return recorder


def test_a_reply_goes_out_in_the_residents_language_through_the_outbox_checks(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    number = "+14155550103"
    resident = join(chat, Channel.SMS, number, "es")
    ref = give_feedback(resident, "es", "Necesitamos intérpretes en la clínica", may_contact=True)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        item = triage.find_item(session, ref)
        first = triage.reply(session, item, "Gracias. ¿Qué idiomas faltan?", PROGRAM, ACTOR, now)
        second = triage.reply(session, item, "Ya hablamos con la clínica.", PROGRAM, ACTOR, now)
        with pytest.raises(TriageError, match="Write the reply"):
            triage.reply(session, item, "  ", PROGRAM, ACTOR, now)
        rows = [(r.idempotency_key, r.purpose, r.channel, r.address, r.text) for r in (first, second)]
    header = Translator("es").gettext(triage.REPLY_HEADER, program="Eastside Health Voices", ref=ref)
    assert header == f"Respuesta del equipo de Eastside Health Voices sobre el #{ref}:"
    assert rows[0] == (f"staff-reply:{ref}:1", "staff_reply", "sms", number, f"{header}\nGracias. ¿Qué idiomas faltan?")
    assert rows[1][0] == f"staff-reply:{ref}:2"
    sent = drain(runtime)
    assert [o.text for o in sent.sent] == [rows[0][4], rows[1][4]]
    assert all(o.address.value == number for o in sent.sent)


def test_no_reply_to_someone_who_did_not_agree_to_be_contacted(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    ref = give_feedback(join(chat, Channel.SMS, "+14155550104"), "en", "Potholes on 5th", may_contact=False)
    with runtime.db.transaction() as session:
        item = triage.find_item(session, ref)
        assert triage.reply_refusal(session, item) is not None
        with pytest.raises(TriageError, match="did not agree to be contacted"):
            triage.reply(session, item, "Hello", PROGRAM, ACTOR, runtime.clock.now())
    with runtime.db.transaction() as session:
        assert session.scalars(select(OutboxItem).where(OutboxItem.purpose == "staff_reply")).first() is None


def test_a_queued_reply_waits_for_quiet_hours_and_is_dropped_after_stop(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    resident = join(chat, Channel.SMS, "+14155550105")
    ref = give_feedback(resident, "en", "Thanks for the clinic", may_contact=True)
    with runtime.db.transaction() as session:
        session.scalars(select(Resident)).one().timezone = "Asia/Tokyo"  # 03:00 there: quiet hours
        triage.reply(
            session,
            triage.find_item(session, ref),
            "You're welcome!",
            PROGRAM,
            ACTOR,
            runtime.clock.now(),
        )
    assert drain(runtime).sent == []
    with runtime.db.transaction() as session:
        row = session.scalars(select(OutboxItem).where(OutboxItem.purpose == "staff_reply")).one()
        assert (row.status, row.last_error) == ("pending", "held: quiet hours")
    resident.send("STOP")
    assert isinstance(runtime.clock, FixedClock)
    runtime.clock.at += timedelta(hours=12)
    assert drain(runtime).sent == []
    with runtime.db.transaction() as session:
        row = session.scalars(select(OutboxItem).where(OutboxItem.purpose == "staff_reply")).one()
        assert (row.status, row.last_error) == ("cancelled", "resident opted out")  # STOP wins over the queue
        item = triage.find_item(session, ref)
        assert "opted out" in (triage.reply_refusal(session, item) or "")
        assert session.scalars(select(InputStatusChange)).first() is None
