"""Twilio status callbacks: signature first, then the message's status only ever moves forward."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.twilio_sms import OPTED_OUT_CODES, STATUS_PATH, UNREACHABLE_CODES, TwilioSms, parse_form
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.models import Address, ConsentEvent, Message, Resident
from bot.web.webhooks import _body

__all__ = ["RANK", "STATUS_PATH", "apply_status", "may_follow", "twilio_status"]

log = logging.getLogger("loopline.status")

# Twilio's message statuses, in the order a message goes through them; rank 3 and up is terminal.
RANK: dict[str, int] = {
    "queued": 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "read": 4,
}
TERMINAL = 3


def may_follow(new: str) -> frozenset[str]:
    """The current statuses that `new` may replace: lower ranks, and only `delivered` among terminal ones."""
    rank = RANK[new]
    earlier = {status for status, r in RANK.items() if r < min(rank, TERMINAL)}
    if new == "read":
        earlier.add("delivered")
    return frozenset(earlier)


def _error_code(raw: str) -> int | None:
    value = raw.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


def apply_status(session: Session, sid: str, status: str, code: int | None, now: datetime) -> bool:
    """Record one callback inside a transaction; False when no outbound SMS has this provider id."""
    message = session.execute(
        select(Message.id, Message.resident_id, Message.address).where(
            Message.channel == Channel.SMS.value, Message.provider_id == sid, Message.direction == "out"
        )
    ).first()
    if message is None:
        return False
    values: dict[str, str] = {"status": status}
    if code is not None:
        values["error_code"] = str(code)
    # One conditional UPDATE: a concurrent callback either sees this one's result or is re-checked after it,
    # so the status can never move backwards.
    session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status.in_(sorted(may_follow(status))))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if code in OPTED_OUT_CODES and message.resident_id is not None:
        resident = session.get(Resident, message.resident_id, with_for_update=True)
        if resident is not None and resident.consent != "revoked":
            resident.consent, resident.updated_at = "revoked", now
            session.add(
                ConsentEvent(
                    resident_id=resident.id,
                    state="revoked",
                    source="provider",
                    channel=Channel.SMS.value,
                    message_id=message.id,
                    at=now,
                )
            )
    if code in UNREACHABLE_CODES:
        session.execute(
            update(Address)
            .where(Address.channel == Channel.SMS.value, Address.value == message.address)
            .values(reachable=False)
            .execution_options(synchronize_session=False)
        )
    return True


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
    code = _error_code(form.get("ErrorCode", ""))
    now = runtime.clock.now()

    def work() -> bool:
        with runtime.db.transaction() as session:
            return apply_status(session, sid, status, code, now)

    if not await runtime.db.run(work):
        log.info("status callback for an unknown message %s", sid)
        return Response(status_code=200)
    return Response(status_code=204)
