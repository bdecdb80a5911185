"""A resident's page for staff: their addresses, consent history, contributions and messages; an admin can
export everything held about them (a data-access request) or erase them (an erasure request)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.engagement.residents import merge, privacy
from bot.ids import record_id
from bot.staff import audit
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import PRIVATE_HEADERS, FormError, error_page, render

SHOWN_MESSAGES = 100


@page("view_numbers")
async def resident_page(request: Request) -> Response:
    """GET /dashboard/residents/{id}: everything about one resident (admin and staff only: it shows addresses)."""
    return await _show_resident(request)


async def _show_resident(request: Request, problem: FormError | None = None) -> Response:
    """The resident's page; with a problem, the merge or erase form again with what is wrong beside it."""
    runtime = runtime_of(request)
    resident_id = int(request.path_params["id"])

    def load(session: Session) -> dict[str, Any] | None:
        resident = privacy.find_resident(session, resident_id)
        return privacy.export(session, resident) if resident else None

    data = await runtime.db.in_transaction(load)
    if data is None:
        return error_page(request, 404, "No such resident.")
    messages = data["messages"]
    return render(
        request,
        "dashboard/resident.html",
        400 if problem else 200,
        problem=problem,
        title=f"Resident #{resident_id}",
        data=data,
        messages=messages[-SHOWN_MESSAGES:],
        older=max(0, len(messages) - SHOWN_MESSAGES),
        can_manage=staff_of(request).can("users"),
    )


@page("users")
async def export_resident(request: Request) -> Response:
    """GET /dashboard/residents/{id}/export.json: a data-access request, answered as a JSON download (audited)."""
    runtime, staff = runtime_of(request), staff_of(request)
    resident_id = int(request.path_params["id"])

    def load(session: Session) -> dict[str, Any] | None:
        resident = privacy.find_resident(session, resident_id)
        if resident is None:
            return None
        audit.record(session, staff.actor, "resident.export", f"resident:{resident_id}", runtime.clock.now())
        return privacy.export(session, resident)

    data = await runtime.db.in_transaction(load)
    if data is None:
        return error_page(request, 404, "No such resident.")
    disposition = f'attachment; filename="resident-{resident_id}.json"'
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={**PRIVATE_HEADERS, "Content-Disposition": disposition},
    )


@page("users")
async def erase_resident(request: Request) -> Response:
    """POST /dashboard/residents/{id}/erase: an erasure request; the id must be typed again to confirm (audited)."""
    runtime, staff = runtime_of(request), staff_of(request)
    resident_id = int(request.path_params["id"])
    form = await read_form(request)
    if str(form.get("confirm") or "").strip().lstrip("#") != str(resident_id):
        wrong = f"Type the resident's number ({resident_id}) to confirm the erasure."
        return await _show_resident(request, FormError.of("erase", wrong, form))

    def erase(session: Session) -> dict[str, int] | None:
        resident = privacy.find_resident(session, resident_id)
        if resident is None:
            return None
        counts = privacy.erase(session, resident)
        audit.record(session, staff.actor, "resident.erase", f"resident:{resident_id}", runtime.clock.now(), **counts)
        return counts

    counts = await runtime.db.in_transaction(erase)
    if counts is None:
        return error_page(request, 404, "No such resident.")
    await runtime.db.run(runtime.purge_media)  # their stored files, now that the erasure is committed
    done = f"Resident #{resident_id} was erased ({counts['messages']} messages deleted)."
    return RedirectResponse(f"/dashboard/inbox?done={done}", status_code=303)


@page("view_numbers")
async def merge_resident(request: Request) -> Response:
    """POST /dashboard/residents/{id}/merge: the resident number in `other` is the same person (say, on
    Telegram); their addresses, consent history, answers and messages move here (audited)."""
    runtime, staff = runtime_of(request), staff_of(request)
    resident_id = int(request.path_params["id"])
    form = await read_form(request)
    other_id = record_id(str(form.get("other") or ""))
    if other_id is None:
        return await _show_resident(request, FormError.of("merge", "Give a resident's number.", form))

    def apply(session: Session) -> str | None:
        now = runtime.clock.now()
        try:
            kept = merge.merge(session, resident_id, other_id, now)
        except merge.MergeError as exc:
            return str(exc)
        audit.record(
            session,
            staff.actor,
            "resident.merge",
            f"resident:{resident_id}",
            now,
            merged=other_id,
            consent=kept.consent,
        )
        return None

    problem = await runtime.db.in_transaction(apply)
    if problem:
        return await _show_resident(request, FormError.of("merge", problem, form))
    done = f"Resident #{other_id} is now part of this resident."
    return RedirectResponse(f"/dashboard/residents/{resident_id}?done={done}", status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/dashboard/residents/{id:id}", resident_page, methods=["GET"]),
    Route("/dashboard/residents/{id:id}/export.json", export_resident, methods=["GET"]),
    Route("/dashboard/residents/{id:id}/erase", erase_resident, methods=["POST"]),
    Route("/dashboard/residents/{id:id}/merge", merge_resident, methods=["POST"]),
]
