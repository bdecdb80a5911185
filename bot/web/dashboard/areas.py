"""The areas page: the program's areas with their residents, what residents typed that matches none (mapped here once
for everyone), and a CSV of areas pasted in."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement import areas as area_book
from bot.engagement import representation
from bot.store.models import Resident
from bot.store.places import Area
from bot.web.dashboard.polls import with_notice
from bot.web.dashboard.representation_view import representation_panel
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import FormError, render

MAX_CSV = 200_000


async def _show(request: Request, problem: FormError | None = None) -> Response:
    runtime = runtime_of(request)
    locale = runtime.settings.default_locale

    def load(session: Session) -> dict[str, Any]:
        counts = dict(session.execute(select(Resident.area, func.count()).group_by(Resident.area)).all())
        rows = [
            {
                "area": area,
                "name": area_book.display_name(area, locale),
                "residents": counts.get(area_book.display_name(area, locale), 0),
            }
            for area in session.scalars(select(Area).order_by(Area.code))
        ]
        return {
            "areas": rows,
            "unmatched": area_book.unmatched(session),
            "representation": representation_panel(session, None),
        }

    found = await runtime.db.in_transaction(load)
    return render(
        request,
        "dashboard/areas.html",
        400 if problem else 200,
        problem=problem,
        title="Areas",
        columns=area_book.COLUMNS,
        **found,
    )


@page("content")
async def areas_page(request: Request) -> Response:
    """GET /dashboard/areas."""
    return await _show(request)


@page("content")
async def load_areas(request: Request) -> Response:
    """POST /dashboard/areas/load: the areas of a pasted CSV (new codes added, known ones replaced)."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    text = str(form.get("csv") or "")[:MAX_CSV]

    def act(session: Session) -> tuple[int, int]:
        return area_book.load_areas(session, text, runtime.settings.default_locale, staff.actor, runtime.clock.now())

    try:
        stored, placed = await runtime.db.in_transaction(act)
    except area_book.AreaError as exc:
        return await _show(request, FormError.of("load", str(exc), form))
    return with_notice("/dashboard/areas", f"{stored} areas stored; {placed} residents are in one of them.")


@page("content")
async def load_baseline(request: Request) -> Response:
    """POST /dashboard/areas/baseline: the population baseline from a pasted CSV (it replaces the old one)."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    text = str(form.get("csv") or "")[:MAX_CSV]

    def act(session: Session) -> int:
        locale = runtime.settings.default_locale
        return representation.load_baseline(session, text, locale, staff.actor, runtime.clock.now())

    try:
        stored = await runtime.db.in_transaction(act)
    except representation.BaselineError as exc:
        return await _show(request, FormError.of("baseline", str(exc), form))
    return with_notice("/dashboard/areas", f"Baseline: {stored} counts stored.")


@page("content")
async def map_spelling(request: Request) -> Response:
    """POST /dashboard/areas/map: what a spelling residents used means, once for everyone."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    typed, code = str(form.get("typed") or ""), str(form.get("code") or "")

    def act(session: Session) -> int:
        locale = runtime.settings.default_locale
        return area_book.map_spelling(session, typed, code, locale, staff.actor, runtime.clock.now())

    try:
        moved = await runtime.db.in_transaction(act)
    except area_book.AreaError as exc:
        return await _show(request, FormError.of("map", str(exc), form))
    return with_notice("/dashboard/areas", f"{typed!r} now means {code}: {moved} residents moved.")


ROUTES: list[BaseRoute] = [
    Route("/dashboard/areas", areas_page, methods=["GET"]),
    Route("/dashboard/areas/load", load_areas, methods=["POST"]),
    Route("/dashboard/areas/map", map_spelling, methods=["POST"]),
    Route("/dashboard/areas/baseline", load_baseline, methods=["POST"]),
]
