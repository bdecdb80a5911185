"""Scheduled sweeps: event and poll reminders are queued once, however many processes run the sweep."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from bot.clock import FixedClock
from bot.conversation.flows.loader import read_document
from bot.delivery.sweeps import Schedule, run_sweeps
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.broadcasts.audiences import parse_audience
from bot.engagement.events.calendar import load_event, moved_to_offset
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import Event
from bot.store.models import OutboxItem
from tests.conftest import make_settings
from tests.support.chat import Chat
from tests.test_polls import DEMO, load

NOW = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
EVENTS = Path(__file__).resolve().parents[1] / "bot" / "engagement" / "demo"


def reminders(runtime: Runtime, prefix: str) -> list[OutboxItem]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(OutboxItem).where(OutboxItem.idempotency_key.startswith(prefix)).order_by(OutboxItem.id)
            )
        )


def sweep(runtime: Runtime, at: datetime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        return run_sweeps(session, at, Schedule())


def resident(chat: Callable[..., Chat], number: str, language: str = "1") -> Chat:
    someone = chat(Channel.SMS, number)
    for text in ("hi", language, "yes", "skip"):
        someone.send(text)
    return someone


def test_event_reminders_go_once_at_each_lead_time(
    runtime: Runtime, chat: Callable[..., Chat], database_url: str
) -> None:
    runtime.clock = runtime.pipeline.clock = FixedClock(at=NOW)
    with runtime.db.transaction() as session:
        event = load_event(session, moved_to_offset(read_document(EVENTS / "health-fair.yaml"), NOW, 1), NOW)
        session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values(starts_at=NOW + timedelta(hours=20), ends_at=NOW + timedelta(hours=24))
        )
    answers = {"+14155550100": "yes", "+14155550101": "maybe", "+14155550102": "no"}
    for number, response in answers.items():
        someone = resident(chat, number, "2" if response == "maybe" else "1")
        someone.send("EVENTS")
        someone.send("1")
        someone.send(response if response != "maybe" else "quizás")
    stopped = resident(chat, "+14155550103")
    stopped.send("EVENTS")
    stopped.send("1")
    stopped.send("yes")
    stopped.send("STOP")
    other = Runtime(make_settings(database_url))  # a second process on the same database
    try:
        assert sweep(runtime, NOW) == {"event_reminders": 2, "poll_reminders": 0}
        assert sweep(other, NOW + timedelta(minutes=1))["event_reminders"] == 0  # the same reminders: already queued
    finally:
        other.close()
    day_before = reminders(runtime, "reminder:24h:")
    assert sorted(r.address for r in day_before) == ["+14155550100", "+14155550101"]
    english = next(r for r in day_before if r.address == "+14155550100")
    assert english.text.startswith("Reminder: Eastside community health fair is ")
    spanish = next(r for r in day_before if r.address == "+14155550101")
    assert spanish.text.startswith("Recordatorio: Feria de salud comunitaria del Eastside")
    assert sweep(runtime, NOW + timedelta(hours=18, minutes=30))["event_reminders"] == 2  # the 2-hour reminders
    assert sweep(runtime, NOW + timedelta(hours=19))["event_reminders"] == 0
    assert len(reminders(runtime, "reminder:2h:")) == 2


def test_a_poll_reminder_goes_once_to_invited_residents_who_did_not_answer(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    load(runtime, DEMO)
    answered, silent = resident(chat, "+14155550100"), resident(chat, "+14155550101")
    invitation = broadcasts.BroadcastFile(
        "Health poll", {"en": "Tell us what matters."}, {"poll": "health-priorities"}, False
    )
    with runtime.db.transaction() as session:
        broadcasts.enqueue(session, invitation, parse_audience(""), "en", NOW, NOW)
        session.execute(
            update(OutboxItem).where(OutboxItem.purpose.startswith("broadcast:")).values(status="sent", finished_at=NOW)
        )
    answered.send("HEALTH")
    answered.send("1")
    assert sweep(runtime, NOW + timedelta(hours=47))["poll_reminders"] == 0  # too early
    assert sweep(runtime, NOW + timedelta(hours=49))["poll_reminders"] == 1
    assert sweep(runtime, NOW + timedelta(hours=72))["poll_reminders"] == 0  # once
    (only,) = reminders(runtime, "poll-reminder:")
    assert only.address == "+14155550101"
    assert "Reply POLL to answer." in only.text
    assert silent is not None


def test_the_scheduler_wakes_the_sweeps(runtime: Runtime) -> None:
    import asyncio

    async def started() -> list[str]:
        clock = runtime.scheduler()
        try:
            return sorted(job.id for job in clock.get_jobs())
        finally:
            clock.shutdown(wait=False)

    assert asyncio.run(started()) == ["media", "outbox", "reminders"]
    runtime.clock = FixedClock(at=NOW)
    assert runtime.sweep() == {
        "event_reminders": 0,
        "poll_reminders": 0,
        "event_followups": 0,
        "payout_asks": 0,
        "check_backs": 0,
        "trust_pulses": 0,
    }


def test_after_an_event_those_who_came_are_asked_how_it_was(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from bot.store.engagement import InputItem

    runtime.clock = runtime.pipeline.clock = FixedClock(at=NOW)
    with runtime.db.transaction() as session:
        event = load_event(session, moved_to_offset(read_document(EVENTS / "health-fair.yaml"), NOW, 1), NOW)
        session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values(starts_at=NOW + timedelta(hours=2), ends_at=NOW + timedelta(hours=4))
        )
    came = resident(chat, "+14155550100", "2")
    for text in ("EVENTOS", "1", "sí"):
        came.send(text)
    busy = resident(chat, "+14155550101")
    for text in ("EVENTS", "1", "yes", "FEEDBACK"):
        busy.send(text)  # in the middle of another conversation when the event ends
    after = NOW + timedelta(hours=5)
    with runtime.db.transaction() as session:
        queued = run_sweeps(session, after, Schedule(), runtime.flows)
    assert queued["event_followups"] == 1
    with runtime.db.transaction() as session:
        assert run_sweeps(session, after + timedelta(minutes=1), Schedule(), runtime.flows)["event_followups"] == 0
    (asked,) = reminders(runtime, "followup:")
    assert asked.address == "+14155550100"
    assert asked.text.startswith("¡Gracias por venir a Feria de salud comunitaria del Eastside! ¿Qué te pareció?")
    assert "¿Quieres contarnos algo" in came.texts("4")[0]
    assert came.texts("Faltaron sillas, pero muy útil.") == ["¡Gracias! Esto nos ayuda a planear el próximo."]
    with runtime.db.transaction() as session:
        item = session.scalars(select(InputItem).where(InputItem.kind == "event")).one()
    assert (item.rating, item.topic, item.text) == (4, "event:health-fair", "Faltaron sillas, pero muy útil.")
    busy.send("The clinic needs longer hours")
    busy.send("skip")
    busy.send("no")
    with runtime.db.transaction() as session:
        assert run_sweeps(session, after + timedelta(hours=1), Schedule(), runtime.flows)["event_followups"] == 1
