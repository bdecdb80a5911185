"""The "weighted results" panel of a poll's page: the dimensions staff weight it over (a form), what the weights cost
(effective sample size, design effect, the largest weight) and what they could not do, and each question's options
raw and weighted."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.engagement import weighting
from bot.engagement.forms import LANGUAGE_NAMES
from bot.engagement.polls.report import latest_flow
from bot.i18n.negotiation import pick_text
from bot.staff import audit, sharing
from bot.store.engagement import Poll
from bot.store.flow_registry import FlowRegistry
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page, render


def weighting_panel(session: Session, flows: FlowRegistry, poll: Poll) -> dict[str, Any] | None:
    """The weighted results of a poll, ready for its page; None while the baseline names no dimension."""
    available = weighting.weightable(session, poll)
    flow = latest_flow(session, flows, poll.slug)
    if not available or flow is None:
        return None
    found, questions = weighting.weighted(session, poll, flow)
    return {
        "available": available,
        "chosen": weighting.chosen_dimensions(session, poll),
        "respondents": len(found.weights),
        "effective_size": found.effective_size,
        "design_effect": found.design_effect,
        "largest": found.largest,
        "cap": weighting.CAP,
        "margins": found.margins,
        "notes": found.notes,
        "questions": questions,
    }


@page("view")
async def weighted_page(request: Request) -> Response:
    """GET /dashboard/polls/{slug}/weighted (partners: shared polls only)."""
    runtime, staff, slug = runtime_of(request), staff_of(request), request.path_params["slug"]

    def load(session: Session) -> dict[str, Any] | None:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
        if poll is None:
            return None
        if not sharing.may_see(session, staff, "poll", slug):
            return {"forbidden": True}
        title = pick_text(poll.title, "en") or poll.slug
        return {"poll": {"slug": poll.slug, "title": title}, "weighted": weighting_panel(session, runtime.flows, poll)}

    context = await runtime.db.in_transaction(load)
    if context is None:
        return error_page(request, 404, f"There is no poll {slug!r}.")
    if context.get("forbidden"):
        return error_page(request, 403, "This poll is not shared with your organization.")
    if context["weighted"] is None:
        return error_page(request, 404, "Load a population baseline first (the Areas page, or loopline baseline load).")
    title = f"Weighted results {slug}"
    return render(request, "dashboard/polls_weighted.html", title=title, language_names=LANGUAGE_NAMES, **context)


@page("content")
async def choose_dimensions(request: Request) -> Response:
    """POST /dashboard/polls/{slug}/weighting: the dimensions the poll's results are weighted over (audited)."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    slug = request.path_params["slug"]
    asked = [str(value) for value in (await read_form(request)).getlist("dimension")]

    def change(session: Session) -> list[str] | None:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
        if poll is None:
            return None
        chosen = [d for d in weighting.weightable(session, poll) if d in asked]
        poll.weight_by = {"dimensions": chosen}
        audit.record(session, staff.actor, "poll.weighting", f"poll:{slug}", runtime.clock.now(), dimensions=chosen)
        return chosen

    chosen = await runtime.db.in_transaction(change)
    if chosen is None:
        return error_page(request, 404, f"There is no poll {slug!r}.")
    said = f"Weighted by {', '.join(chosen)}." if chosen else "Weighted by every dimension the baseline names."
    return RedirectResponse(f"/dashboard/polls/{slug}/weighted?done={quote(said)}", status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/dashboard/polls/{slug}/weighted", weighted_page, methods=["GET"]),
    Route("/dashboard/polls/{slug}/weighting", choose_dimensions, methods=["POST"]),
]
