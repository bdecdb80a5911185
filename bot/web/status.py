"""Twilio status callbacks: signature first, then the message's status only ever moves forward."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.twilio_sms import STATUS_PATH, TwilioSms, parse_form
from bot.delivery.statuses import RANK, apply_status, error_code, keep_early
from bot.runtime import Runtime
from bot.web.webhooks import _body

__all__ = ["STATUS_PATH", "twilio_status"]

log = logging.getLogger("loopline.status")


async def twilio_status(request: Request) -> Response:
    """POST /webhooks/twilio/status: verify, then move the message's status forward (never back)."""
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
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or len(sid) > 64 or status not in RANK:
        # Answered 200 all the same: Twilio must not retry something we will never understand.
        log.info("status callback ignored: status %r", status[:20])
        return Response(status_code=200)
    code = error_code(form.get("ErrorCode", ""))
    now = runtime.clock.now()

    def work() -> bool:
        with runtime.db.transaction() as session:
            if apply_status(session, sid, status, code, now):
                return True
            # Twilio can call back before the worker has recorded the send: keep it for when it has.
            keep_early(session, sid, status, code, now)
            return False

    if not await runtime.db.run(work):
        log.info("status callback before its message was recorded: kept for %s", sid)
        return Response(status_code=200)
    return Response(status_code=204)
