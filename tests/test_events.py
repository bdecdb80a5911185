"""Events through the real pipeline: listing in the resident's language and zone, RSVP, capacity, waitlist."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.channels.segments import segment_count
from bot.conversation.flows.loader import read_document
from bot.engagement.events.calendar import load_event, moved_to_offset
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import Rsvp
from bot.store.models import OutboxItem, Resident
from tests.support.chat import Chat

DEMO = Path(__file__).resolve().parents[1] / "bot" / "engagement" / "demo"


def add_events(runtime: Runtime) -> None:
    """The demo events, moved to a week and two weeks from the test clock."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        for name, days in (("health-fair.yaml", 7), ("town-hall.yaml", 14)):
            load_event(session, moved_to_offset(read_document(DEMO / name), now, days), now)


def joined(chat: Callable[..., Chat], address: str, language: str = "1", channel: Channel = Channel.SMS) -> Chat:
    resident = chat(channel, address)
    for text in ("hi", language, "yes", "skip"):
        resident.send(text)
    return resident


def rsvps(runtime: Runtime) -> list[tuple[int, str, bool]]:
    with runtime.db.transaction() as session:
        rows = session.scalars(select(Rsvp).order_by(Rsvp.id))
        return [(r.resident_id, r.response, r.waitlisted) for r in rows]


def test_no_upcoming_events(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    assert "no upcoming events" in joined(chat, "+14155550100").texts("EVENTS")[0]


def test_events_are_listed_with_dates_in_the_residents_language(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    add_events(runtime)
    listing = joined(chat, "+14155550100").texts("Events")[0]
    lines = listing.splitlines()
    assert lines[0] == "Upcoming events (reply with a number):"
    assert lines[1].startswith("1 Eastside community health fair - ")
    # Filed as 10:00-14:00 in Los Angeles; this resident's zone is not known: the event's own time.
    assert lines[1].endswith("10:00 AM - 2:00 PM")
    assert "\u202f" not in listing
    with runtime.db.transaction() as session:
        for resident in session.scalars(select(Resident)):
            resident.timezone = "America/Los_Angeles"
    assert "10:00 AM - 2:00 PM\n" in joined(chat, "+14155550100").texts("EVENTS")[0]
    arabic = joined(chat, "+14155550101", language="5")
    assert "معرض صحة المجتمع في الحي الشرقي" in arabic.texts("فعاليات")[0]
    assert "مكتبة الحي الشرقي" in arabic.texts("1")[0]  # where it is: said with the question about it


def test_rsvp_can_be_changed_and_a_full_event_has_a_waitlist(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    add_events(runtime)
    first, second, third = (joined(chat, f"+1415555010{n}") for n in range(3))
    for resident in (first, second, third):
        resident.send("EVENTS")
        asked = resident.texts("2")[0]
        assert asked.startswith(
            "Will you come to Town hall: what we heard about community health at Eastside Community Center, Room B?"
        )
    assert first.texts("1")[0].startswith("You are on the list for Town hall")
    assert second.texts("yes")[0].startswith("You are on the list")
    assert "waitlist" in third.texts("si")[0]
    assert [(response, waiting) for _, response, waiting in rsvps(runtime)] == [
        ("yes", False),
        ("yes", False),
        ("yes", True),
    ]
    first.send("EVENTS")
    first.send("town hall")
    assert "can't come" in first.texts("no")[0]
    assert [(response, waiting) for _, response, waiting in rsvps(runtime)] == [
        ("no", False),
        ("yes", False),
        ("yes", False),
    ]
    with runtime.db.transaction() as session:
        told = session.scalars(select(OutboxItem).where(OutboxItem.purpose == "event")).one()
        assert told.address == "+14155550102"
        assert told.text.startswith("Good news: a place opened up at Town hall")
    second.send("EVENTS")
    second.send("2")
    assert "might come" in second.texts("maybe")[0]


def test_rsvp_with_buttons_on_telegram(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    add_events(runtime)
    resident = chat(Channel.TELEGRAM, "77", language_hint="en")
    for text, button in (("hi", False), ("en", True), ("yes", True), ("skip", False)):
        resident.send(text, button=button)
    listing = resident.send("EVENTS")[0]
    assert [value for value, _ in listing.buttons] == [str(e) for e in (1, 2)]
    rsvp = resident.send("1", button=True)[0]
    assert [value for value, _ in rsvp.buttons] == ["yes", "no", "maybe"]
    confirmed = resident.send("yes", button=True)[0].text
    assert confirmed.startswith("You are on the list for Eastside community health fair")


@pytest.mark.parametrize(
    ("language", "events_word", "shown"), [("1", "EVENTS", 5), ("2", "EVENTOS", 2), ("4", "SỰ KIỆN", 1)]
)
def test_a_long_list_of_events_is_cut_to_a_short_message(
    runtime: Runtime, chat: Callable[..., Chat], language: str, events_word: str, shown: int
) -> None:
    """Five events with long titles: the list keeps the soonest that fit in 3 SMS segments (all five in plain
    English, fewer where accents or another script make it UCS-2), and a number past the cut still picks its event."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        for day in range(1, 6):
            document = moved_to_offset(read_document(DEMO / "town-hall.yaml"), now, day)
            load_event(session, {**document, "slug": f"town-hall-{day}"}, now)
    resident = joined(chat, "+14155550100", language=language)
    listing = resident.texts(events_word)[0]
    assert segment_count(listing) <= 3
    assert len(listing.splitlines()) - 1 == shown
    assert resident.texts("5")[0] != resident.texts("EVENTS")[0]  # the fifth event's question, not the list again
