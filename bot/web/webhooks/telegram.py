"""The Telegram webhook: the secret token first, then one update (deduplicated by its id) through the pipeline."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.channels.base import InvalidInbound
from bot.channels.telegram import SECRET_HEADER, secret_matches
from bot.messages import Channel
from bot.pipeline.orchestrator import TransientFailure
from bot.runtime import Runtime
from bot.web.webhooks.inbound import handle_inbound, read_body, try_again


async def handle_telegram_update(runtime: Runtime, data: dict[str, Any]) -> None:
    """Turn one raw update into a message through the pipeline, and answer its button press."""
    telegram = runtime.telegram
    assert telegram is not None
    try:
        inbound, callback_id = telegram.parse(data)
    except InvalidInbound as exc:
        await runtime.db.run(
            runtime.pipeline.record_dead_letter,
            Channel.TELEGRAM,
            str(exc),
            {"update": json.dumps(data)[:5000]},
        )
        return
    if inbound is not None:
        await handle_inbound(runtime, inbound, reply_inline=False)
    if callback_id:
        await telegram.answer_callback(callback_id)


async def telegram_update(request: Request) -> Response:  # noqa: PLR0911  # one answer per refusal
    """POST /webhooks/telegram: check the secret token, then handle the update."""
    runtime: Runtime = request.app.state.runtime
    if runtime.telegram is None:
        return PlainTextResponse("The Telegram channel is not configured.\n", status_code=404)
    if not secret_matches(
        runtime.settings.telegram.secret if runtime.settings.telegram else None,
        request.headers.get(SECRET_HEADER),
    ):
        return PlainTextResponse("Invalid secret token.\n", status_code=403)
    body = await read_body(request)
    if body is None:
        return PlainTextResponse("Request body too large.\n", status_code=413)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, absurd nesting or numbers
        return JSONResponse({"error": "body is not JSON"}, status_code=400)
    if not isinstance(data, dict):
        return JSONResponse({"error": "an update is a JSON object"}, status_code=400)
    try:
        await handle_telegram_update(runtime, data)
    except TransientFailure:
        return try_again()
    return JSONResponse({"ok": True})
