"""Co-owners of a decision on the dashboard: staff name the partner organizations (and whether it is co-decided);
a partner user of a co-owning organization signs the draft off (each audited)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.engagement.decisions import co_decision
from bot.engagement.decisions.publishing import DecisionError, find
from bot.ids import MAX_RECORD_ID, plain_number
from bot.store.engagement import Decision
from bot.store.staff import Organization
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page


def panel(session: Session, decision: Decision) -> dict[str, Any]:
    """The co-owners section of a decision's page: who co-owns it, who signed off, and every organization to choose."""
    given = co_decision.signed(session, decision)
    return {
        "co_owners": [(o.id, o.name, given.get(o.id)) for o in co_decision.co_owners(session, decision)],
        "organizations": [(o.id, o.name) for o in session.scalars(select(Organization).order_by(Organization.name))],
        "waiting": co_decision.waiting_for(session, decision),
    }


def _back(slug: str, message: str) -> Response:
    return RedirectResponse(f"/dashboard/decisions/{quote(slug)}?{urlencode({'done': message})}", status_code=303)


@page("decide")
async def set_co_owners(request: Request) -> Response:
    """POST /dashboard/decisions/{slug}/co-owners: organization_id (several), co_decided."""
    runtime, staff = runtime_of(request), staff_of(request)
    slug = str(request.path_params["slug"])[:64]
    form = await read_form(request)
    chosen = {n for v in form.getlist("organization_id") if (n := plain_number(str(v), MAX_RECORD_ID))}
    together = form.get("co_decided") in ("1", "on", "true")

    def act(session: Session) -> None:
        co_decision.set_co_owners(session, find(session, slug), chosen, together, staff.actor, runtime.clock.now())

    try:
        await runtime.db.in_transaction(act)
    except DecisionError as exc:
        return error_page(request, 404, str(exc))
    except co_decision.CoDecisionError as exc:
        return error_page(request, 400, str(exc), title="Cannot do that")
    return _back(slug, "Co-owners saved" + (": it waits for each one's sign-off." if together else "."))


@page("view")
async def sign_off(request: Request) -> Response:
    """POST /dashboard/decisions/{slug}/sign-off: a partner of a co-owning organization signs the draft off."""
    runtime, staff = runtime_of(request), staff_of(request)
    slug = str(request.path_params["slug"])[:64]
    if not staff.scoped:
        return error_page(request, 403, "Partner organizations sign off; staff publish.")

    def act(session: Session) -> None:
        co_decision.sign_off(session, find(session, slug), staff.organization_id, staff.actor, runtime.clock.now())

    try:
        await runtime.db.in_transaction(act)
    except DecisionError as exc:
        return error_page(request, 404, str(exc))
    except co_decision.CoDecisionError as exc:
        return error_page(request, 403, str(exc))
    return _back(slug, "Signed off for your organization.")


ROUTES: list[BaseRoute] = [
    Route("/dashboard/decisions/{slug:str}/co-owners", set_co_owners, methods=["POST"]),
    Route("/dashboard/decisions/{slug:str}/sign-off", sign_off, methods=["POST"]),
]
