"""Provider webhooks: Twilio SMS (signature first, TwiML answer) and Telegram (secret token, update dedupe)."""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from bot.channels.base import InvalidInbound
from bot.channels.telegram import SECRET_HEADER, secret_matches
from bot.channels.twilio_sms import MAX_BODY_BYTES, TwilioSms, parse_form
from bot.delivery.gate import settled
from bot.messages import Channel, Inbound
from bot.pipeline.orchestrator import Handled, TransientFailure
from bot.runtime import Runtime

log = logging.getLogger("loopline.webhooks")
TWIML = "application/xml"


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            return None
    return bytes(body)


def try_again() -> Response:
    """The answer for a message that could not be stored now: the provider sends it again (nothing was kept)."""
    return PlainTextResponse("Busy; please retry.\n", status_code=503, headers={"Retry-After": "1"})


async def handle_inbound(
    runtime: Runtime, inbound: Inbound, *, reply_inline: bool, provider_replied: bool = False
) -> Handled:
    """One message through the pipeline (TransientFailure when it must be sent again). A STOP answered inline
    waits, before its confirmation goes back, for the resident's messages already in a provider's hands."""
    handled = await runtime.db.run(
        lambda: runtime.pipeline.handle(inbound, reply_inline=reply_inline, provider_replied=provider_replied)
    )
    if handled.queued:
        runtime.worker.wake.set()
    if reply_inline and handled.opted_out and handled.resident_id is not None:
        await settled(runtime.db, runtime.clock, handled.resident_id)
    return handled


async def verified_twilio_form(request: Request) -> tuple[Runtime, TwilioSms, dict[str, str]] | Response:
    """A Twilio webhook's form once its signature is checked (before the form is used for anything), or the
    answer to give: 404 without the SMS channel, 413 for an oversized body, 403 for a bad signature."""
    runtime: Runtime = request.app.state.runtime
    twilio: TwilioSms | None = runtime.twilio
    if twilio is None:
        return PlainTextResponse("The SMS channel is not configured.\n", status_code=404)
    body = await _body(request)
    if body is None:
        return PlainTextResponse("Request body too large.\n", status_code=413)
    form = parse_form(body)
    if not twilio.verify(str(request.url), form, request.headers.get("x-twilio-signature")):
        return PlainTextResponse("Invalid Twilio signature.\n", status_code=403)
    return runtime, twilio, form


async def twilio_sms(request: Request) -> Response:
    """POST /webhooks/twilio/sms: verify, store, answer in TwiML."""
    verified = await verified_twilio_form(request)
    if isinstance(verified, Response):
        return verified
    runtime, twilio, form = verified
    try:
        inbound = twilio.parse(form, runtime.clock.now())
    except InvalidInbound as exc:
        log.warning("twilio webhook kept as a dead letter: %s", exc)
        await runtime.db.run(runtime.pipeline.record_dead_letter, Channel.SMS, str(exc), form)
        return Response(TwilioSms.twiml([]), status_code=200, media_type=TWIML)
    try:
        handled = await handle_inbound(
            runtime, inbound, reply_inline=True, provider_replied=twilio.provider_replied(inbound)
        )
    except TransientFailure:
        return try_again()
    return Response(TwilioSms.twiml([o.text for o in handled.immediate]), media_type=TWIML)


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


async def telegram_update(request: Request) -> Response:
    """POST /webhooks/telegram: check the secret token, then handle the update."""
    runtime: Runtime = request.app.state.runtime
    if runtime.telegram is None:
        return PlainTextResponse("The Telegram channel is not configured.\n", status_code=404)
    if not secret_matches(
        runtime.settings.telegram.secret if runtime.settings.telegram else None,
        request.headers.get(SECRET_HEADER),
    ):
        return PlainTextResponse("Invalid secret token.\n", status_code=403)
    body = await _body(request)
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
