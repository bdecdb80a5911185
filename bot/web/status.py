"""Twilio status callbacks: signature first, then the message's status only ever moves forward."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.channels.twilio_sms import STATUS_PATH
from bot.delivery.statuses import RANK, apply_status, error_code, keep_early
from bot.web.webhooks import verified_twilio_form

__all__ = ["STATUS_PATH", "twilio_status"]

log = logging.getLogger("loopline.status")


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
