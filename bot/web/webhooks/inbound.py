"""What every inbound webhook shares: a bounded body, one message through the pipeline (in a group committed
together with those that arrived alongside it), and "send it again"."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.channels.twilio_sms import MAX_BODY_BYTES
from bot.delivery.gate import settled
from bot.ids import plain_number
from bot.messages import Inbound
from bot.pipeline.orchestrator import Arrival, Handled
from bot.runtime import Runtime


async def read_body(request: Request) -> bytes | None:
    """The request's body, or None when it is larger than any provider sends."""
    declared = request.headers.get("content-length", "")
    if (plain_number(declared, 10**18) or 0) > MAX_BODY_BYTES:
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
    handled = await runtime.inbound.handle(Arrival(inbound, reply_inline, provider_replied))
    if handled.queued:
        runtime.wake_worker()
    if reply_inline and handled.opted_out and handled.resident_id is not None:
        await settled(runtime.db, runtime.clock, handled.resident_id)
    return handled
