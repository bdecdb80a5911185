"""Twilio's webhooks: the signature first, then an SMS answered in TwiML or a WhatsApp message (answered through
the outbox), or a status callback that only ever moves a message's status forward."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.base import InvalidInbound
from bot.channels.twilio_sms import STATUS_PATH, WHATSAPP_PREFIX, TwilioSms, parse_form
from bot.channels.twilio_statuses import RANK, error_code
from bot.delivery.statuses import apply_status, keep_early
from bot.messages import Channel
from bot.pipeline.orchestrator import TransientFailure
from bot.runtime import Runtime
from bot.web.webhooks.inbound import handle_inbound, read_body, try_again

__all__ = ["STATUS_PATH", "twilio_sms", "twilio_status"]

log = logging.getLogger("loopline.webhooks")
TWIML = "application/xml"


async def verified_twilio_form(request: Request) -> tuple[Runtime, TwilioSms, dict[str, str]] | Response:
    """A Twilio webhook's form once its signature is checked (before the form is used for anything), or the
    answer to give: 404 without the SMS channel, 413 for an oversized body, 403 for a bad signature."""
    runtime: Runtime = request.app.state.runtime
    twilio: TwilioSms | None = runtime.twilio
    if twilio is None:
        return PlainTextResponse("The SMS channel is not configured.\n", status_code=404)
    body = await read_body(request)
    if body is None:
        return PlainTextResponse("Request body too large.\n", status_code=413)
    form = parse_form(body)
    if not twilio.verify(str(request.url), form, request.headers.get("x-twilio-signature")):
        return PlainTextResponse("Invalid Twilio signature.\n", status_code=403)
    return runtime, twilio, form


async def twilio_sms(request: Request) -> Response:
    """POST /webhooks/twilio/sms, for SMS and WhatsApp alike: verify, store, answer (SMS in TwiML)."""
    verified = await verified_twilio_form(request)
    if isinstance(verified, Response):
        return verified
    runtime, twilio, form = verified
    channel = Channel.WHATSAPP if form.get("From", "").strip().lower().startswith(WHATSAPP_PREFIX) else Channel.SMS
    try:
        inbound = twilio.parse(form, runtime.clock.now())
        if channel is Channel.WHATSAPP and runtime.whatsapp is None:
            raise InvalidInbound("a WhatsApp message, and LOOPLINE_TWILIO_WHATSAPP_FROM is not set")
    except InvalidInbound as exc:
        log.warning("twilio webhook kept as a dead letter: %s", exc)
        await runtime.db.run(runtime.pipeline.record_dead_letter, channel, str(exc), form)
        return Response(TwilioSms.twiml([]), status_code=200, media_type=TWIML)
    # SMS replies go back in the TwiML answer; WhatsApp replies through the outbox, where the 24-hour window, quick
    # replies and the WhatsApp pace are decided when they are sent.
    inline = inbound.address.channel is Channel.SMS
    try:
        handled = await handle_inbound(
            runtime, inbound, reply_inline=inline, provider_replied=inline and twilio.provider_replied(inbound)
        )
    except TransientFailure:
        return try_again()
    return Response(TwilioSms.twiml([o.text for o in handled.immediate]), media_type=TWIML)


async def twilio_status(request: Request) -> Response:
    """POST /webhooks/twilio/status: verify, then move the message's status forward (never back)."""
    verified = await verified_twilio_form(request)
    if isinstance(verified, Response):
        return verified
    runtime, _twilio, form = verified
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or len(sid) > 64 or status not in RANK:
        # Answered 200 all the same: Twilio must not retry something we will never understand.
        log.info("status callback ignored: status %r", status[:20])
        return Response(status_code=200)
    code = error_code(form.get("ErrorCode", ""))
    now = runtime.clock.now()

    def work(session: Session) -> bool:
        if apply_status(session, sid, status, code, now):
            return True
        # Twilio can call back before the worker has recorded the send: keep it for when it has.
        keep_early(session, sid, status, code, now)
        return False

    if not await runtime.db.in_transaction(work):
        log.info("status callback before its message was recorded: kept for %s", sid)
        return Response(status_code=200)
    return Response(status_code=204)
