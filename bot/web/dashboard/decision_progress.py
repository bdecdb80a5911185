"""Moving a published decision on from the dashboard: in progress, implemented, or changed with why (in each language
staff write; the program's at least), its contributors told once each."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.engagement.decisions import progress
from bot.engagement.decisions.publishing import DecisionError, find
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.program import Program
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page


@page("decide")
async def move(request: Request) -> Response:
    """POST /dashboard/decisions/{slug}/stage: stage=in_progress | implemented | changed, why_<language>=..."""
    runtime, staff = runtime_of(request), staff_of(request)
    slug = str(request.path_params["slug"])[:64]
    form = await read_form(request)
    stage = str(form.get("stage") or "")
    why = {locale: str(form.get(f"why_{locale}") or "")[:2000] for locale in SUPPORTED_LOCALES}

    def act(session: Session) -> int:
        decision = find(session, slug)
        program = Program.of(runtime.settings)
        return progress.move(session, decision, stage, why, staff.actor, runtime.clock.now(), program)

    try:
        told = await runtime.db.in_transaction(act)
    except DecisionError as exc:
        return error_page(request, 404, str(exc))
    except progress.ProgressError as exc:
        return error_page(request, 400, str(exc), title="Cannot do that")
    runtime.wake_worker()
    residents = "resident" if told == 1 else "residents"
    message = f"Moved to {stage.replace('_', ' ')}; {told} {residents} will be told."
    return RedirectResponse(f"/dashboard/decisions/{quote(slug)}?{urlencode({'done': message})}", status_code=303)


ROUTES: list[BaseRoute] = [Route("/dashboard/decisions/{slug:str}/stage", move, methods=["POST"])]
