"""The WhatsApp templates page: the approved contents staff registered (a template per purpose and language for
messages outside the 24-hour window, quick replies per number of buttons), added and removed here (audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement import whatsapp_templates as contents
from bot.engagement.forms import LANGUAGE_NAMES
from bot.ids import MAX_RECORD_ID, plain_number
from bot.web.dashboard.polls import with_notice
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import FormError, error_page, render


async def _show(request: Request, problem: FormError | None = None) -> Response:
    runtime = runtime_of(request)
    rows: list[dict[str, Any]] = await runtime.db.in_transaction(contents.listed)
    twilio = runtime.settings.twilio
    return render(
        request,
        "dashboard/whatsapp.html",
        400 if problem else 200,
        problem=problem,
        title="WhatsApp templates",
        templates=rows,
        purposes=[(p, contents.PURPOSE_NAMES[p]) for p in contents.KINDS],
        language_names=LANGUAGE_NAMES,
        sender=twilio.whatsapp_from if twilio else None,
    )


@page("content")
async def whatsapp_page(request: Request) -> Response:
    """GET /dashboard/whatsapp."""
    return await _show(request)


@page("content")
async def add_template(request: Request) -> Response:
    """POST /dashboard/whatsapp/add: register a content (replacing the one for the same purpose and language)."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    try:
        wanted = contents.checked(
            str(form.get("purpose") or ""),
            str(form.get("locale") or ""),
            str(form.get("buttons") or "0"),
            str(form.get("content_sid") or ""),
            str(form.get("label") or ""),
        )
    except ValueError as exc:
        return await _show(request, FormError.of("add", str(exc), form))

    def act(session: Session) -> None:
        contents.register(session, wanted, staff.actor, runtime.clock.now(), staff.user_id)

    await runtime.db.in_transaction(act)
    return with_notice("/dashboard/whatsapp", f"{wanted.content_sid} registered.")


@page("content")
async def remove_template(request: Request) -> Response:
    """POST /dashboard/whatsapp/{id}/remove."""
    runtime, staff = runtime_of(request), staff_of(request)
    template_id = plain_number(request.path_params["id"], MAX_RECORD_ID)
    if template_id is None:
        return error_page(request, 404)

    def act(session: Session) -> bool:
        return contents.remove(session, template_id, staff.actor, runtime.clock.now())

    if not await runtime.db.in_transaction(act):
        return error_page(request, 404)
    return with_notice("/dashboard/whatsapp", "Template removed.")


ROUTES: list[BaseRoute] = [
    Route("/dashboard/whatsapp", whatsapp_page, methods=["GET"]),
    Route("/dashboard/whatsapp/add", add_template, methods=["POST"]),
    Route("/dashboard/whatsapp/{id}/remove", remove_template, methods=["POST"]),
]
