"""Event authoring for the dashboard: form fields <-> an event document (texts per language, local times)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import FlowError
from bot.engagement.events.calendar import MAX_CAPACITY, YEARS, load_event, parse_event
from bot.engagement.forms import Missing, Texts, form_field, language_name, naming_problems
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.ids import plain_number
from bot.states import EventStatus
from bot.store.engagement import Event, Rsvp

COMMON_ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/New_York",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Puerto_Rico",
    "Europe/London",
    "Europe/Paris",
    "UTC",
)
STATUSES = (EventStatus.DRAFT, EventStatus.PUBLISHED, EventStatus.CANCELLED)
STATUS_ACTIONS: dict[str, str] = {EventStatus.PUBLISHED: "event.publish", EventStatus.CANCELLED: "event.cancel"}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
TEXTS = (("title", "Title", 200), ("place", "Place", 300), ("description", "Description", 1000))


@dataclass
class EventDraft:
    """An event as the form holds it: texts in the languages written, times as typed in the event's zone."""

    slug: str = ""
    fallback: str = ""
    timezone: str = ""
    starts: str = ""
    ends: str = ""
    capacity: str = ""
    publish: bool = True
    title: Texts = field(default_factory=dict)
    place: Texts = field(default_factory=dict)
    description: Texts = field(default_factory=dict)


@dataclass(frozen=True)
class RsvpCounts:
    """How residents answered: coming (with a place), waiting for a place, maybe, not coming."""

    yes: int = 0
    waitlist: int = 0
    maybe: int = 0
    no: int = 0


def draft_from_form(form: Mapping[str, Any]) -> EventDraft:
    """Read the event form (names like `title.es`, `starts`, `timezone`)."""
    draft = EventDraft(
        slug=form_field(form, "slug", 64).lower(),
        fallback=form_field(form, "fallback", 16),
        timezone=form_field(form, "timezone", 64),
        starts=form_field(form, "starts", 32),
        ends=form_field(form, "ends", 32),
        capacity=form_field(form, "capacity", 8),
        publish=bool(form.get("publish")),
    )
    for name, _label, limit in TEXTS:
        texts = {locale: form_field(form, f"{name}.{locale}", limit) for locale in SUPPORTED_LOCALES}
        setattr(draft, name, {locale: text for locale, text in texts.items() if text})
    return draft


def _written(texts: Mapping[str, Any]) -> Texts:
    return {locale: str(texts[locale]) for locale in SUPPORTED_LOCALES if texts.get(locale)}


def draft_from_event(event: Event) -> EventDraft:
    """The form's content for a stored event; "*" (the fallback's text) is not shown as a language of its own."""
    zone = ZoneInfo(event.timezone)
    every = event.title.get("*")
    fallback = next((loc for loc in SUPPORTED_LOCALES if every is not None and event.title.get(loc) == every), "")
    return EventDraft(
        slug=event.slug,
        fallback=fallback,
        timezone=event.timezone,
        starts=event.starts_at.astimezone(zone).strftime(LOCAL_FORMAT),
        ends=event.ends_at.astimezone(zone).strftime(LOCAL_FORMAT),
        capacity=str(event.capacity or ""),
        publish=event.status == EventStatus.PUBLISHED,
        title=_written(event.title),
        place=_written(event.place),
        description=_written(event.description or {}),
    )


def zones(*preferred: str) -> list[str]:
    """The time zones the form offers: the program's and the event's first, then common ones."""
    return list(dict.fromkeys([zone for zone in preferred if zone] + list(COMMON_ZONES)))


def effective_fallback(draft: EventDraft, default_locale: str) -> str:
    """The chosen fallback language, else the program's default if the title has it, else the first written."""
    if draft.fallback in SUPPORTED_LOCALES:
        return draft.fallback
    if default_locale in draft.title or not draft.title:
        return default_locale
    return next(locale for locale in SUPPORTED_LOCALES if locale in draft.title)


def _with_fallback(texts: Texts, fallback: str) -> dict[str, str]:
    """The languages written, and "*" (every other language) with the fallback's text."""
    if not texts:
        return {}
    return {**texts, "*": texts.get(fallback) or next(iter(texts.values()))}


def to_document(draft: EventDraft, default_locale: str) -> dict[str, Any]:
    """The event document, as an event file would give it (loaded by events.load_event like any other)."""
    fallback = effective_fallback(draft, default_locale)
    document: dict[str, Any] = {
        "kind": "event",
        "spec_version": 1,
        "slug": draft.slug,
        "timezone": draft.timezone,
        "starts_at": draft.starts,
        "title": _with_fallback(draft.title, fallback),
        "place": _with_fallback(draft.place, fallback),
        "capacity": plain_number(draft.capacity, MAX_CAPACITY),
    }
    if draft.description:
        document["description"] = _with_fallback(draft.description, fallback)
    if draft.ends:
        document["ends_at"] = draft.ends
    return document


def missing_translations(
    title: Mapping[str, Any], place: Mapping[str, Any], description: Mapping[str, Any]
) -> list[Missing]:
    """Each text and the languages it was not written in (they read the fallback's text)."""
    found = []
    for (_name, label, _limit), texts in zip(TEXTS, (title, place, description), strict=True):
        if not texts:
            continue
        absent = tuple(locale for locale in SUPPORTED_LOCALES if not texts.get(locale))
        if absent:
            found.append(Missing(label, absent))
    return found


def _local(raw: str, what: str) -> tuple[datetime | None, str | None]:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return None, f"Give the {what} as a date and time (e.g. 2026-12-12T10:00)."
    if value.tzinfo is not None:
        return None, f"Give the {what} without a time zone offset: choose the time zone below."
    if not YEARS[0] <= value.year <= YEARS[1]:
        return None, f"Give the {what} in a year from {YEARS[0]} to {YEARS[1]}."
    return value, None


def check(session: Session, draft: EventDraft, default_locale: str, *, new: bool) -> list[str]:
    """Everything wrong with the draft, each said so staff can fix it (empty when it can be saved)."""
    problems = naming_problems(session, draft.slug, draft.fallback, Event.slug, "An event", new=new)
    fallback = effective_fallback(draft, default_locale)
    for name, label, _limit in TEXTS:
        texts: Texts = getattr(draft, name)
        if name != "description" and not texts:
            problems.append(f"Write the {label.lower()} in at least one language.")
        elif texts and fallback not in texts:
            problems.append(
                f"Write the {label.lower()} in {language_name(fallback)}, the fallback language, or choose another."
            )
    try:
        ZoneInfo(draft.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append("Choose a time zone from the list.")
    starts, problem = _local(draft.starts, "start")
    if problem:
        problems.append(problem)
    if draft.ends:
        ends, problem = _local(draft.ends, "end")
        if problem:
            problems.append(problem)
        elif starts is not None and ends is not None and ends <= starts:
            problems.append("The event must end after it starts.")
    if draft.capacity and not (plain_number(draft.capacity, MAX_CAPACITY) or 0) >= 1:
        problems.append(
            f"The capacity must be a whole number of places from 1 to {MAX_CAPACITY:,} (or empty for no limit)."
        )
    if not problems:
        try:
            parse_event(to_document(draft, default_locale))
        except FlowError as exc:
            problems.append(str(exc))
    return problems


def save(session: Session, draft: EventDraft, default_locale: str, now: datetime) -> Event:
    """Create or update the event exactly as a loaded event file would be; a new one may stay a draft."""
    new = session.scalars(select(Event.id).where(Event.slug == draft.slug)).first() is None
    event = load_event(session, to_document(draft, default_locale), now)
    if new and not draft.publish:
        event.status = EventStatus.DRAFT
    return event


def rsvp_counts(session: Session, event_id: int) -> RsvpCounts:
    """RSVPs of an event by answer, with the waitlist apart."""
    rows = session.execute(
        select(Rsvp.response, Rsvp.waitlisted, func.count())
        .where(Rsvp.event_id == event_id)
        .group_by(Rsvp.response, Rsvp.waitlisted)
    )
    counts = {"yes": 0, "waitlist": 0, "maybe": 0, "no": 0}
    for response, waitlisted, count in rows:
        key = "waitlist" if response == "yes" and waitlisted else str(response)
        counts[key] = counts.get(key, 0) + int(count)
    return RsvpCounts(counts["yes"], counts["waitlist"], counts["maybe"], counts["no"])
