"""Events as data: files with texts in every language, upcoming listings, RSVPs with capacity and a waitlist."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import FlowError, Problems, content_slug
from bot.engagement.compensation.offers import check_in_code
from bot.engagement.polls.definition import texts_in_every_language
from bot.i18n.catalogs import Translator, _
from bot.i18n.formatting import format_event_time
from bot.i18n.negotiation import pick_text
from bot.program import Program
from bot.states import Consent, EventStatus
from bot.store.engagement import Event, Rsvp
from bot.store.models import Resident
from bot.store.outbox import notice_row, queue_once, reachable_address

RESPONSES = ("yes", "no", "maybe")
YEARS = (2000, 2100)  # an event's times fall in these years (9999-12-31 would overflow once two hours are added)
MAX_CAPACITY = 100_000  # places at one event: a stadium's worth, and well within the database's integers


def _when(raw: Any, zone: ZoneInfo, what: str) -> datetime:
    try:
        value = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    except ValueError as exc:
        raise FlowError(f"{what} must be a date and time like 2026-12-12T10:00") from exc
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise FlowError(f"{what} must be in a year from {YEARS[0]} to {YEARS[1]}")
    return value.replace(tzinfo=zone) if value.tzinfo is None else value


def event_problems(document: dict[str, Any]) -> list[FlowError]:
    """Every error of an event file at once, each with its place in the document."""
    problems = Problems("event")
    _check_event(document, problems)
    return problems.found


def parse_event(document: dict[str, Any]) -> dict[str, Any]:
    """The fields of an event file, checked: every text in every language, times in its time zone; else its first
    FlowError."""
    problems = Problems("event")
    fields = _check_event(document, problems)
    if fields is None:
        raise problems.found[0]
    return fields


def _check_event(document: dict[str, Any], problems: Problems) -> dict[str, Any] | None:
    """Every part of an event checked, its errors kept in problems; its fields when there is none."""
    slug = document.get("slug")
    with problems.at("slug"):
        content_slug("event", slug)
    problems = problems.within(subject=f"event {slug!r}")
    if document.get("spec_version") != 1:
        problems.add(FlowError("spec_version must be 1"), "spec_version")
    fields: dict[str, Any] = {"slug": slug, "timezone": "UTC"}
    with problems.at("timezone"):
        try:
            fields["timezone"] = str(ZoneInfo(str(document.get("timezone", ""))))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise FlowError("timezone must be an IANA name like America/Los_Angeles") from exc
    zone = ZoneInfo(fields["timezone"])
    starts = ends = None
    with problems.at("starts_at"):
        starts = _when(document.get("starts_at"), zone, "starts_at")
    with problems.at("ends_at"):
        if "ends_at" in document:
            ends = _when(document["ends_at"], zone, "ends_at")
        elif starts is not None:
            ends = _when(starts + timedelta(hours=2), zone, "ends_at")
        if starts is not None and ends is not None and ends <= starts:
            raise FlowError("ends_at must come after starts_at")
    fields.update(starts_at=starts, ends_at=ends)
    fields["capacity"] = capacity = document.get("capacity")
    if capacity is not None and (type(capacity) is not int or not 1 <= capacity <= MAX_CAPACITY):
        problems.add(FlowError(f"capacity must be a whole number of places from 1 to {MAX_CAPACITY:,}"), "capacity")
    for key in ("title", "place", "description"):
        with problems.at(key):
            fields[key] = texts_in_every_language(document.get(key), key, required=key != "description") or {}
    return None if problems.found else fields


def moved_to_offset(document: dict[str, Any], now: datetime, days: int | None = None) -> dict[str, Any]:
    """A demo event moved to `days` (or its `demo_offset_days`) from today, at the times its file gives."""
    offset = days if days is not None else int(document.get("demo_offset_days", 7))
    day = (now + timedelta(days=offset)).date()
    moved = dict(document)
    for key in ("starts_at", "ends_at"):
        raw = document[key]
        at = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
        moved[key] = at.replace(year=day.year, month=day.month, day=day.day).isoformat()
    return moved


def load_event(session: Session, document: dict[str, Any], now: datetime) -> Event:
    """Create or update an event from its file."""
    fields = parse_event(document)
    event = session.scalars(select(Event).where(Event.slug == fields["slug"])).first()
    if event is None:
        event = Event(status=EventStatus.PUBLISHED, created_at=now, **fields)
        session.add(event)
        session.flush()
        check_in_code(session, event, random.SystemRandom())  # what attendees text: HERE 4821
    else:
        for name, value in fields.items():
            setattr(event, name, value)
    session.flush()
    return event


def upcoming(session: Session, now: datetime, limit: int = 5) -> list[Event]:
    """Published events that have not ended, soonest first."""
    return list(
        session.scalars(
            select(Event)
            .where(Event.status == EventStatus.PUBLISHED, Event.ends_at > now)
            .order_by(Event.starts_at)
            .limit(limit)
        )
    )


def _confirmed(session: Session, event_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(Rsvp)
            .where(Rsvp.event_id == event_id, Rsvp.response == "yes", Rsvp.waitlisted.is_(False))
        )
        or 0
    )


@dataclass(frozen=True)
class RsvpOutcome:
    """What an RSVP did: the answer, whether it waits for a place, and who got a place it freed."""

    response: str
    waitlisted: bool
    promoted_resident_id: int | None = None


def rsvp(session: Session, event: Event, resident_id: int, response: str, now: datetime) -> RsvpOutcome:
    """Record or change an RSVP; yes beyond capacity joins the waitlist; a freed place goes to the first waiting."""
    if response not in RESPONSES:
        raise ValueError(f"response must be one of {RESPONSES}")
    row = session.scalars(
        select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.resident_id == resident_id).with_for_update()
    ).first()
    held_place = row is not None and row.response == "yes" and not row.waitlisted
    full = event.capacity is not None and _confirmed(session, event.id) >= event.capacity  # counted before changing
    if row is None:
        row = Rsvp(
            event_id=event.id,
            resident_id=resident_id,
            response=response,
            waitlisted=False,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
    row.response, row.updated_at = response, now
    if response == "yes" and held_place:
        row.waitlisted = False
    elif response == "yes":
        row.waitlisted = full
        if not full:
            row.created_at = now
    else:
        row.waitlisted = False
    session.flush()
    promoted = None
    if held_place and response != "yes" and event.capacity is not None:
        first = session.scalars(
            select(Rsvp)
            .where(Rsvp.event_id == event.id, Rsvp.waitlisted.is_(True))
            .order_by(Rsvp.created_at, Rsvp.id)
            .limit(1)
        ).first()
        if first is not None:
            first.waitlisted, first.updated_at = False, now
            promoted = first.resident_id
    return RsvpOutcome(response, row.waitlisted, promoted)


ON_THE_LIST = _("You are on the list for {event}, {when}, at {place}. Reply EVENTS to change your answer.")
WAITLISTED = _("{event} is full, so you are on the waitlist. We will tell you if a place opens up.")
MIGHT_COME = _("Thank you! We noted that you might come to {event}. Reply EVENTS to change your answer.")
NOT_COMING = _("Thank you for letting us know that you can't come to {event}.")
CANCELLED = _("Sorry: {event} ({when}) is cancelled. Reply EVENTS to see other events.")
PROMOTED = _(
    "Good news: a place opened up at {event}, {when}. You are on the list! Reply EVENTS to change your answer."
)


def describe(event: Event, locale: str, reader_zone: str | None) -> dict[str, str]:
    """The words an event message uses, in the resident's language; its time in the event's zone, or in the
    resident's (named) where known and different (SMS-safe)."""

    def text(texts: dict[str, Any]) -> str:
        return pick_text(texts, locale)

    return {
        "event": text(event.title),
        "place": text(event.place),
        "when": format_event_time(
            event.starts_at, event.ends_at, locale, event_zone=event.timezone, reader_zone=reader_zone, sms=True
        ),
    }


def confirmation(outcome: RsvpOutcome, event: Event, locale: str, reader_zone: str | None) -> str:
    """What the resident is told after answering an event."""
    message = {"yes": WAITLISTED if outcome.waitlisted else ON_THE_LIST, "maybe": MIGHT_COME, "no": NOT_COMING}
    return Translator(locale).gettext(message[outcome.response], **describe(event, locale, reader_zone))


def promotion(event: Event, locale: str, reader_zone: str | None) -> str:
    """What someone on the waitlist is told when a place opens up."""
    return Translator(locale).gettext(PROMOTED, **describe(event, locale, reader_zone))


def tell_cancelled(session: Session, event: Event, now: datetime, program: Program) -> int:
    """Queue, once each, a message in their language to everyone who said yes or maybe (the waitlist too) that
    the event is cancelled; how many were queued. Consent and quiet hours apply at send time."""
    rows = []
    attending = (
        select(Resident)
        .join(Rsvp, Rsvp.resident_id == Resident.id)
        .where(Rsvp.event_id == event.id, Rsvp.response.in_(("yes", "maybe")), Resident.consent == Consent.GRANTED)
        .order_by(Resident.id)
    )
    for resident in session.scalars(attending):
        address = reachable_address(session, resident.id)
        if address is None:
            continue
        locale = resident.locale_or(program.default_locale)
        words = describe(event, locale, resident.timezone)
        text = Translator(locale).gettext(CANCELLED, **words)
        key = f"event-cancelled:{event.id}:{resident.id}"
        rows.append(notice_row(key, f"event-cancelled:{event.id}", resident.id, address, text, locale, now))
    return queue_once(session, rows)
