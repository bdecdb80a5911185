"""The simulator: a web chat at /simulator that talks to the bot through the real pipeline, no provider needed."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from bot.channels import simulator
from bot.channels.base import InvalidInbound
from bot.i18n.negotiation import NATIVE_NAMES, SUPPORTED_LOCALES, text_direction
from bot.ids import plain_number
from bot.messages import Channel
from bot.pipeline.orchestrator import TransientFailure
from bot.runtime import Runtime
from bot.store.models import Message
from bot.web.webhooks.inbound import handle_inbound, try_again

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _conversation(runtime: Runtime, handle: str, after: int = 0) -> list[dict[str, Any]]:
    with runtime.db.transaction() as session:
        rows = session.scalars(
            select(Message)
            .where(Message.channel == Channel.SIMULATOR.value, Message.address == handle, Message.id > after)
            .order_by(Message.id)
            .limit(500)
        ).all()
        return [
            {
                "id": m.id,
                "direction": m.direction,
                "text": m.text,
                "at": m.created_at.isoformat(timespec="seconds"),
            }
            for m in rows
        ]


async def _send(runtime: Runtime, handle: str, text: str, language: str | None, message_id: str) -> list[str]:
    inbound = simulator.parse(handle, text, message_id, runtime.clock.now(), language)
    handled = await handle_inbound(runtime, inbound, reply_inline=True)
    return [o.text for o in handled.immediate]


def _handle(value: object) -> str:
    handle = str(value or "").strip()
    return handle if handle else f"web-{secrets.token_hex(4)}"


async def page(request: Request) -> Response:
    """GET /simulator: the conversation so far and a box to write in (works without JavaScript)."""
    runtime: Runtime = request.app.state.runtime
    handle = request.query_params.get("handle") or request.cookies.get("sim_handle") or _handle(None)
    try:
        simulator.parse(handle, "", "probe", runtime.clock.now())
    except InvalidInbound:
        handle = _handle(None)
    messages = await runtime.db.run(_conversation, runtime, handle)
    response = templates.TemplateResponse(
        request,
        "simulator.html",
        {
            "handle": handle,
            "messages": messages,
            "program": runtime.settings.program_name,
            "languages": [(code, NATIVE_NAMES[code], text_direction(code)) for code in SUPPORTED_LOCALES],
        },
    )
    response.set_cookie("sim_handle", handle, httponly=True, samesite="lax")
    return response


async def post_form(request: Request) -> Response:
    """POST /simulator: the no-JavaScript path; sends and redirects back to the conversation."""
    runtime: Runtime = request.app.state.runtime
    form = await request.form()
    handle = _handle(form.get("handle"))
    text = str(form.get("text") or "")
    try:
        await _send(runtime, handle, text, None, f"sim-{secrets.token_hex(12)}")
    except InvalidInbound as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except TransientFailure:
        return try_again()
    return RedirectResponse(f"/simulator?handle={handle}", status_code=303)


async def api_send(request: Request) -> Response:
    """POST /simulator/api/messages {handle, text, language?, id?}: the bot's immediate replies."""
    runtime: Runtime = request.app.state.runtime
    try:
        data = await request.json()
    except (ValueError, RecursionError):
        return JSONResponse({"error": "body must be JSON"}, status_code=400)
    if not isinstance(data, dict) or not isinstance(data.get("text"), str):
        return JSONResponse({"error": "give handle and text"}, status_code=400)
    handle = _handle(data.get("handle"))
    message_id = str(data.get("id") or f"sim-{secrets.token_hex(12)}")
    language = data.get("language") if isinstance(data.get("language"), str) else None
    try:
        replies = await _send(runtime, handle, data["text"], language, message_id)
    except InvalidInbound as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    except TransientFailure:
        return try_again()
    return JSONResponse({"handle": handle, "replies": replies})


async def api_messages(request: Request) -> Response:
    """GET /simulator/api/messages?handle=H&after=ID: the conversation, for the page to pick up later sends."""
    runtime: Runtime = request.app.state.runtime
    handle = request.query_params.get("handle", "")
    after = request.query_params.get("after", "0")
    try:
        simulator.parse(handle, "", "probe", runtime.clock.now())
    except InvalidInbound as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    messages = await runtime.db.run(_conversation, runtime, handle, plain_number(after, 2**63 - 1) or 0)
    return JSONResponse({"handle": handle, "messages": messages})
