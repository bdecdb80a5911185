"""Co-owners of a poll or a proposal on the dashboard: which partner organizations own it with the department (they
see it and are named with it); staff choose them (audited)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.ids import MAX_RECORD_ID, plain_number
from bot.staff import co_owners
from bot.store.engagement import InputItem, Poll
from bot.store.staff import Organization
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page


def panel(session: Session, kind: str, subject: str) -> dict[str, Any]:
    """The co-owners section of a poll's or a proposal's page."""
    owned = co_owners.owners(session, kind, subject)
    return {
        "co_owners": [(o.id, o.name) for o in owned],
        "organizations": [(o.id, o.name) for o in session.scalars(select(Organization).order_by(Organization.name))],
    }


async def _set(request: Request, kind: str, subject: str, back: str) -> Response:
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    chosen = {n for v in form.getlist("organization_id") if (n := plain_number(str(v), MAX_RECORD_ID))}

    def act(session: Session) -> list[str] | None:
        exists = (
            select(Poll.id).where(Poll.slug == subject)
            if kind == "poll"
            else select(InputItem.id).where(InputItem.ref == int(subject), InputItem.kind == "proposal")
        )
        if session.scalar(exists) is None:
            return None
        return co_owners.set_owners(session, kind, subject, chosen, staff.actor, runtime.clock.now())

    named = await runtime.db.in_transaction(act)
    if named is None:
        return error_page(request, 404, f"There is no such {kind}.")
    said = f"Co-owned with {', '.join(named)}." if named else "No co-owning organization."
    return RedirectResponse(f"{back}?done={quote(said)}", status_code=303)


@page("content")
async def poll_owners(request: Request) -> Response:
    """POST /dashboard/polls/{slug}/co-owners: organization_id (several)."""
    slug = str(request.path_params["slug"])[:64]
    return await _set(request, "poll", slug, f"/dashboard/polls/{quote(slug)}")


@page("content")
async def proposal_owners(request: Request) -> Response:
    """POST /dashboard/proposals/{ref}/co-owners: organization_id (several)."""
    ref = int(request.path_params["ref"])
    return await _set(request, "proposal", str(ref), f"/dashboard/proposals/{ref}")


ROUTES: list[BaseRoute] = [
    Route("/dashboard/polls/{slug}/co-owners", poll_owners, methods=["POST"]),
    Route("/dashboard/proposals/{ref:id}/co-owners", proposal_owners, methods=["POST"]),
]
