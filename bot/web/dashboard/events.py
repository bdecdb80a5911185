"""Dashboard pages for events: list, create and edit per language in the event's time zone, RSVPs, status."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement.events import calendar as events
from bot.engagement.events import editor as event_editor
from bot.engagement.events.editor import EventDraft
from bot.engagement.forms import LANGUAGE_NAMES, LANGUAGES
from bot.i18n.negotiation import pick_text
from bot.program import Program
from bot.staff import audit
from bot.states import EventStatus
from bot.store.engagement import Event, Rsvp
from bot.web.dashboard import compensation
from bot.web.dashboard.polls import with_notice
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page, render


def _event_time(event: Event) -> str:
    zone = ZoneInfo(event.timezone)
    starts, ends = event.starts_at.astimezone(zone), event.ends_at.astimezone(zone)
    end_format = "%H:%M" if starts.date() == ends.date() else "%Y-%m-%d %H:%M"
    return f"{starts:%Y-%m-%d %H:%M} to {ends.strftime(end_format)} ({event.timezone})"


@page("view")
async def event_list(request: Request) -> Response:
    """GET /dashboard/events."""
    runtime = runtime_of(request)
    locale = runtime.settings.default_locale

    def load(session: Session) -> list[dict[str, Any]]:
        coming = dict(
            session.execute(
                select(Rsvp.event_id, func.count())
                .where(Rsvp.response == "yes", Rsvp.waitlisted.is_(False))
                .group_by(Rsvp.event_id)
            ).all()
        )
        return [
            {
                "slug": event.slug,
                "title": pick_text(event.title, locale),
                "place": pick_text(event.place, locale),
                "when": _event_time(event),
                "status": event.status,
                "coming": coming.get(event.id, 0),
                "capacity": event.capacity,
            }
            for event in _soonest_first(session.scalars(select(Event)), runtime.clock.now())
        ]

    rows = await runtime.db.in_transaction(load)
    return render(request, "dashboard/events.html", title="Events", events=rows)


def _soonest_first(events: Iterable[Event], now: datetime) -> list[Event]:
    """Upcoming events by start, soonest first; then those that ended, the latest first."""
    events = list(events)
    coming = sorted((e for e in events if e.ends_at > now), key=lambda e: e.starts_at)
    ended = sorted((e for e in events if e.ends_at <= now), key=lambda e: e.starts_at, reverse=True)
    return coming + ended


def _form_page(
    request: Request, draft: EventDraft, *, new: bool, problems: list[str] | None = None, status_code: int = 200
) -> Response:
    settings = runtime_of(request).settings
    return render(
        request,
        "dashboard/events_form.html",
        status_code=status_code,
        title="New event" if new else f"Edit event {draft.slug}",
        draft=draft,
        new=new,
        problems=problems or [],
        missing=event_editor.missing_translations(draft.title, draft.place, draft.description),
        fallback=event_editor.effective_fallback(draft, settings.default_locale),
        zones=event_editor.zones(draft.timezone, settings.timezone),
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        action="/dashboard/events/new" if new else f"/dashboard/events/{draft.slug}/edit",
    )


async def _submit(request: Request, slug: str | None) -> Response:
    runtime = runtime_of(request)
    staff = staff_of(request)
    draft = event_editor.draft_from_form(await read_form(request))
    if slug is not None:
        draft.slug = slug

    def save(session: Session) -> list[str]:
        problems = event_editor.check(session, draft, runtime.settings.default_locale, new=slug is None)
        if problems:
            return problems
        now = runtime.clock.now()
        event = event_editor.save(session, draft, runtime.settings.default_locale, now)
        audit.record(
            session,
            staff.actor,
            "event.create" if slug is None else "event.update",
            f"event:{event.slug}",
            now,
            status=event.status,
            starts_at=event.starts_at.isoformat(),
            timezone=event.timezone,
            capacity=event.capacity,
            languages=sorted(draft.title),
        )
        return []

    problems = await runtime.db.in_transaction(save)
    if problems:
        return _form_page(request, draft, new=slug is None, problems=problems, status_code=400)
    return with_notice(f"/dashboard/events/{draft.slug}", "Event saved.")


@page("content")
async def new_event_form(request: Request) -> Response:
    """GET /dashboard/events/new."""
    settings = runtime_of(request).settings
    return _form_page(request, EventDraft(timezone=settings.timezone, fallback=settings.default_locale), new=True)


@page("content")
async def new_event(request: Request) -> Response:
    """POST /dashboard/events/new."""
    return await _submit(request, None)


@page("content")
async def edit_event_form(request: Request) -> Response:
    """GET /dashboard/events/{slug}/edit."""
    runtime = runtime_of(request)
    slug = request.path_params["slug"]

    def load(session: Session) -> EventDraft | None:
        event = session.scalars(select(Event).where(Event.slug == slug)).first()
        return event_editor.draft_from_event(event) if event is not None else None

    draft = await runtime.db.in_transaction(load)
    if draft is None:
        return error_page(request, 404, f"There is no event {slug!r}.")
    return _form_page(request, draft, new=False)


@page("content")
async def edit_event(request: Request) -> Response:
    """POST /dashboard/events/{slug}/edit."""
    runtime = runtime_of(request)
    slug = request.path_params["slug"]

    def exists(session: Session) -> bool:
        return session.scalars(select(Event.id).where(Event.slug == slug)).first() is not None

    if not await runtime.db.in_transaction(exists):
        return error_page(request, 404, f"There is no event {slug!r}.")
    return await _submit(request, slug)


@page("view")
async def event_page(request: Request) -> Response:
    """GET /dashboard/events/{slug}: details, RSVP counts, missing translations, status."""
    runtime = runtime_of(request)
    slug = request.path_params["slug"]
    locale = runtime.settings.default_locale

    def load(session: Session) -> dict[str, Any] | None:
        event = session.scalars(select(Event).where(Event.slug == slug)).first()
        if event is None:
            return None
        draft = event_editor.draft_from_event(event)
        counts = event_editor.rsvp_counts(session, event.id)
        return {
            "event": {
                "slug": event.slug,
                "title": pick_text(event.title, locale),
                "place": pick_text(event.place, locale),
                "description": pick_text(event.description, locale),
                "when": _event_time(event),
                "status": event.status,
                "capacity": event.capacity,
            },
            "rsvps": asdict(counts),
            "places_left": None if event.capacity is None else max(event.capacity - counts.yes, 0),
            "missing": event_editor.missing_translations(event.title, event.place, event.description or {}),
            "fallback": draft.fallback or locale,
            "check_in": compensation.event_panel(session, event),
        }

    context = await runtime.db.in_transaction(load)
    if context is None:
        return error_page(request, 404, f"There is no event {slug!r}.")
    return render(
        request, "dashboard/events_show.html", title=f"Event {slug}", language_names=LANGUAGE_NAMES, **context
    )


@page("content")
async def change_status(request: Request) -> Response:
    """POST /dashboard/events/{slug}/status: publish or cancel (audited)."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    slug = request.path_params["slug"]
    status = str((await read_form(request)).get("status") or "")
    if status not in event_editor.STATUS_ACTIONS:
        return error_page(request, 400, "Choose publish or cancel.", title="Bad request")

    def change(session: Session) -> int | None:
        event = session.scalars(select(Event).where(Event.slug == slug)).first()
        if event is None:
            return None
        now = runtime.clock.now()
        told = 0
        if status == EventStatus.CANCELLED and event.status != EventStatus.CANCELLED:
            told = events.tell_cancelled(session, event, now, Program.of(runtime.settings))
        action = event_editor.STATUS_ACTIONS[status]
        audit.record(session, staff.actor, action, f"event:{slug}", now, previous=event.status, told=told)
        event.status = status
        return told

    told = await runtime.db.in_transaction(change)
    if told is None:
        return error_page(request, 404, f"There is no event {slug!r}.")
    if status == EventStatus.PUBLISHED:
        return with_notice(f"/dashboard/events/{slug}", "Event published.")
    who = "resident who said yes or maybe is" if told == 1 else "residents who said yes or maybe are"
    return with_notice(f"/dashboard/events/{slug}", f"Event cancelled; {told} {who} being told.")


ROUTES: list[BaseRoute] = [
    Route("/dashboard/events", event_list, methods=["GET"]),
    Route("/dashboard/events/new", new_event_form, methods=["GET"]),
    Route("/dashboard/events/new", new_event, methods=["POST"]),
    Route("/dashboard/events/{slug}", event_page, methods=["GET"]),
    Route("/dashboard/events/{slug}/edit", edit_event_form, methods=["GET"]),
    Route("/dashboard/events/{slug}/edit", edit_event, methods=["POST"]),
    Route("/dashboard/events/{slug}/status", change_status, methods=["POST"]),
]
