"""Dashboard pages for paying residents for their time: the ledger (lines, totals by area, language and channel, who
is paid against the population, CSV for finance, marking paid), the offer of a poll or an event, and ticking those
who came to an event. Admin and staff only: the ledger names residents and where to send their money."""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement.compensation import ledger, offers, report
from bot.engagement.forms import LANGUAGE_NAMES
from bot.program import Program
from bot.staff import audit
from bot.staff.spreadsheet import csv_text
from bot.store.compensation import EventCheckIn
from bot.store.engagement import Event, Poll, Rsvp
from bot.store.models import Resident
from bot.store.outbox import reachable_address
from bot.web.dashboard.polls import with_notice
from bot.web.dashboard.representation_view import representation_panel
from bot.web.downloads import csv_download
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import PRIVATE_HEADERS, error_page, render

STATUSES = ("owed", "paid")
SHOWN = 500  # lines on the page; the CSV has them all


def _status(request: Request) -> str | None:
    status = request.query_params.get("status")
    return status if status in STATUSES else None


@page("pay")
async def ledger_page(request: Request) -> Response:
    """GET /dashboard/compensation: every line (owed or paid), totals, and who is paid against the population."""
    runtime = runtime_of(request)
    status = _status(request)
    locale = runtime.settings.default_locale

    def load(session: Session) -> dict[str, Any]:
        every = report.lines(session, locale)
        shown = [line for line in every if status is None or line.status == status]
        everyone = report.totals(every)
        return {
            "lines": shown[:SHOWN],
            "more": max(len(shown) - SHOWN, 0),
            "status": status,
            "totals": everyone,
            "overall": report.overall(every),
            "representation": representation_panel(session, None, report.payees(session, every)) if every else None,
        }

    context = await runtime.db.in_transaction(load)
    page_title = "Compensation"
    return render(request, "dashboard/compensation.html", title=page_title, language_names=LANGUAGE_NAMES, **context)


@page("pay")
async def ledger_csv(request: Request) -> Response:
    """GET /dashboard/compensation.csv: every line for finance (owed or paid only, when asked)."""
    runtime, status = runtime_of(request), _status(request)

    def load(session: Session) -> str:
        found = report.lines(session, runtime.settings.default_locale, status)
        return csv_text(report.CSV_HEADER, (line.csv_row() for line in found))

    return csv_download(await runtime.db.in_transaction(load), "compensation.csv", PRIVATE_HEADERS)


@page("pay")
async def mark_paid(request: Request) -> Response:
    """POST /dashboard/compensation/{id}/paid: one owed line paid (audited); the resident is told."""
    runtime, staff = runtime_of(request), staff_of(request)
    entry_id = int(request.path_params["id"])

    def change(session: Session) -> bool:
        now = runtime.clock.now()
        entry = ledger.mark_paid(session, entry_id, staff.actor, now, Program.of(runtime.settings))
        if entry is not None:
            amount = offers.Terms(entry.amount_minor, entry.currency).text("en", sms=False)
            audit.record(session, staff.actor, "compensation.paid", f"compensation:{entry_id}", now, amount=amount)
        return entry is not None

    if not await runtime.db.in_transaction(change):
        return error_page(request, 404, "There is no such owed line (it may be paid already).")
    back = (await read_form(request)).get("back")
    target = "/dashboard/compensation" + ("?status=owed" if back == "owed" else "")
    return with_notice(target, "Marked paid; the resident is being told.")


async def _set_offer(request: Request, kind: str) -> Response:
    """Attach, change or end the offer of a poll or an event (audited)."""
    runtime, staff, slug = runtime_of(request), staff_of(request), request.path_params["slug"]
    form = await read_form(request)
    ending = form.get("action") == "end"
    try:
        terms = None if ending else offers.parse_terms(str(form.get("amount") or ""), str(form.get("currency") or ""))
    except offers.OfferError as exc:
        return error_page(request, 400, str(exc), title="Bad request")

    def change(session: Session) -> bool:
        thing: Poll | Event | None = (
            session.scalars(select(Poll).where(Poll.slug == slug)).first()
            if kind == "poll"
            else session.scalars(select(Event).where(Event.slug == slug)).first()
        )
        if thing is None:
            return False
        now = runtime.clock.now()
        where = {"poll_id": thing.id} if kind == "poll" else {"event_id": thing.id}
        offers.set_offer(session, terms, staff.actor, now, **where)
        if isinstance(thing, Event):
            offers.check_in_code(session, thing, random.SystemRandom())
        amount = terms.text("en", sms=False) if terms else None
        action = "compensation.end" if terms is None else "compensation.offer"
        audit.record(session, staff.actor, action, f"{kind}:{slug}", now, amount=amount)
        return True

    if not await runtime.db.in_transaction(change):
        return error_page(request, 404, f"There is no {kind} {slug!r}.")
    said = "Compensation ended." if ending else "Compensation saved: it applies to those who qualify from now on."
    return with_notice(f"/dashboard/{kind}s/{slug}", said)


@page("pay")
async def poll_offer(request: Request) -> Response:
    """POST /dashboard/polls/{slug}/compensation: what completing the poll pays (or end=stop paying)."""
    return await _set_offer(request, "poll")


@page("pay")
async def event_offer(request: Request) -> Response:
    """POST /dashboard/events/{slug}/compensation: what coming to the event pays (or end=stop paying)."""
    return await _set_offer(request, "event")


@page("pay")
async def tick_attendees(request: Request) -> Response:
    """POST /dashboard/events/{slug}/check-ins: the residents staff saw at the event (audited); each is owed the
    event's offer and asked how they want it."""
    runtime, staff, slug = runtime_of(request), staff_of(request), request.path_params["slug"]
    given = [str(v) for v in (await read_form(request)).getlist("resident_id")]
    chosen = {int(v) for v in given if v.isdecimal() and len(v) < 12}

    def tick(session: Session) -> int | None:
        event = session.scalars(select(Event).where(Event.slug == slug)).first()
        if event is None:
            return None
        now, came = runtime.clock.now(), 0
        rsvped = select(Rsvp.resident_id).where(Rsvp.event_id == event.id)
        for resident in session.scalars(select(Resident).where(Resident.id.in_(chosen), Resident.id.in_(rsvped))):
            new, _owed = ledger.check_in(session, event, resident, _channel_of(session, resident), now, staff.actor)
            came += new
        audit.record(session, staff.actor, "event.check_in", f"event:{slug}", now, residents=came)
        return came

    came = await runtime.db.in_transaction(tick)
    if came is None:
        return error_page(request, 404, f"There is no event {slug!r}.")
    return with_notice(f"/dashboard/events/{slug}", f"{came} checked in.")


def _channel_of(session: Session, resident: Resident) -> str:
    address = reachable_address(session, resident.id)
    return address.channel if address is not None else "sms"


def event_panel(session: Session, event: Event) -> dict[str, Any]:
    """The check-in and compensation section of an event's page: the code (made for an event from before codes),
    the offer, who said yes and who came."""
    offers.check_in_code(session, event, random.SystemRandom())
    offer = offers.offer_of(session, event_id=event.id)
    came = set(session.scalars(select(EventCheckIn.resident_id).where(EventCheckIn.event_id == event.id)))
    yes = session.execute(
        select(Resident.id, Resident.display_name)
        .join(Rsvp, Rsvp.resident_id == Resident.id)
        .where(Rsvp.event_id == event.id, Rsvp.response == "yes")
        .order_by(Resident.id)
    ).all()
    return {
        "code": event.checkin_code,
        "offer": offers.describe(offer),
        "checked_in": len(came),
        "expected": [(rid, name, rid in came) for rid, name in yes],
    }


ROUTES: list[BaseRoute] = [
    Route("/dashboard/compensation", ledger_page, methods=["GET"]),
    Route("/dashboard/compensation.csv", ledger_csv, methods=["GET"]),
    Route("/dashboard/compensation/{id:id}/paid", mark_paid, methods=["POST"]),
    Route("/dashboard/polls/{slug}/compensation", poll_offer, methods=["POST"]),
    Route("/dashboard/events/{slug}/compensation", event_offer, methods=["POST"]),
    Route("/dashboard/events/{slug}/check-ins", tick_attendees, methods=["POST"]),
]
