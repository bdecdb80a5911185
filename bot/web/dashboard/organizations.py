"""An organization's page: its accounts and what is shared with it (polls, topics, audiences, single items)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.engagement.broadcasts.audiences import AudienceError, normalised, parse_audience
from bot.engagement.forms import one_line
from bot.ids import record_id
from bot.staff import audit, sharing
from bot.store.engagement import InputItem, Poll
from bot.store.staff import Organization, User
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page, render

KIND_LABELS = {
    "poll": "Poll (its results and its open-text answers)",
    "topic": "Feedback topic (every item with this topic)",
    "audience": "Audience a partner may send broadcasts to",
    "item": "One input item (by its #ref)",
}


class ShareError(ValueError):
    """What was asked to be shared does not exist or is malformed; the message says which."""


def _check(session: Any, kind: str, subject: str) -> str:
    """The subject as it will be stored, or ShareError."""
    subject = one_line(subject, 500)
    if kind not in sharing.KINDS or not subject:
        raise ShareError("Choose what to share and name it.")
    if kind == "poll" and session.scalar(select(Poll.id).where(Poll.slug == subject)) is None:
        raise ShareError(f"There is no poll {subject!r}.")
    if kind == "item":
        ref = record_id(subject)
        if ref is None or session.scalar(select(InputItem.id).where(InputItem.ref == ref)) is None:
            raise ShareError(f"There is no input item {subject!r}.")
        return str(ref)
    if kind == "audience":
        try:
            parse_audience(subject)
        except AudienceError as exc:
            raise ShareError(f"That audience cannot be used: {exc}") from exc
        return normalised(subject) or subject
    return subject


def _load(runtime: Any, org_id: int) -> dict[str, Any] | None:
    with runtime.db.transaction() as session:
        org = session.get(Organization, org_id)
        if org is None:
            return None
        shared = sharing.shared_with(session, org.id)
        topics = sorted(t for t in session.scalars(select(InputItem.topic).distinct()) if t)
        return {
            "organization": {"id": org.id, "name": org.name, "slug": org.slug},
            "members": session.scalar(select(func.count()).where(User.organization_id == org.id)) or 0,
            "shared": {kind: sorted(shared.get(kind, set())) for kind in sharing.KINDS},
            "polls": list(session.scalars(select(Poll.slug).order_by(Poll.slug))),
            "topics": topics,
            "kinds": KIND_LABELS,
        }


@page("view")
async def organization_page(request: Request) -> Response:
    """GET /dashboard/organizations/{id}: partners see their own organization's page only."""
    return await _page(request)


async def _page(request: Request, error: str = "", status_code: int = 200) -> Response:
    runtime, staff = runtime_of(request), staff_of(request)
    org_id = int(request.path_params["id"])
    if staff.scoped and staff.organization_id != org_id:
        return error_page(request, 404, "No such page.", title="Not found")
    found = await runtime.db.run(lambda: _load(runtime, org_id))
    if found is None:
        return error_page(request, 404, "No such page.", title="Not found")
    return render(
        request,
        "dashboard/organization.html",
        status_code=status_code,
        title=found["organization"]["name"],
        error=error,
        can_share=staff.can("content"),
        **found,
    )


async def _change(request: Request, sharing_it: bool) -> Response:
    runtime, staff = runtime_of(request), staff_of(request)
    org_id = int(request.path_params["id"])
    form = await read_form(request)
    kind, subject = str(form.get("kind") or ""), str(form.get("subject") or "")

    def apply(session: Session) -> str | None:
        if session.get(Organization, org_id) is None:
            return "There is no such organization."
        try:
            stored = _check(session, kind, subject) if sharing_it else subject
        except ShareError as exc:
            return str(exc)
        now = runtime.clock.now()
        if sharing_it:
            sharing.share(session, org_id, kind, stored, now)
        elif kind in sharing.KINDS:
            sharing.unshare(session, org_id, kind, stored)
        action = "share" if sharing_it else "unshare"
        audit.record(
            session, staff.actor, f"organization.{action}", f"organization:{org_id}", now, kind=kind, shared=stored
        )
        return None

    problem = await runtime.db.in_transaction(apply)
    if problem:
        return await _page(request, problem, 400)
    done = "Shared." if sharing_it else "No longer shared."
    return RedirectResponse(f"/dashboard/organizations/{org_id}?done={done}", status_code=303)


@page("content")
async def share(request: Request) -> Response:
    """POST /dashboard/organizations/{id}/share."""
    return await _change(request, True)


@page("content")
async def unshare(request: Request) -> Response:
    """POST /dashboard/organizations/{id}/unshare."""
    return await _change(request, False)


ROUTES: list[BaseRoute] = [
    Route("/dashboard/organizations/{id:id}", organization_page, methods=["GET"]),
    Route("/dashboard/organizations/{id:id}/share", share, methods=["POST"]),
    Route("/dashboard/organizations/{id:id}/unshare", unshare, methods=["POST"]),
]
