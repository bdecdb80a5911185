"""Baseline: the smallest ASGI app that answers Loopline's inbound SMS webhook.

No framework: it reads the request body, parses the urlencoded form with
``urllib.parse.parse_qs`` and answers a fixed TwiML reply. Under the same uvicorn
settings it measures what the server, the HTTP parser and the load generator cost
on their own, so Loopline's figures can be reported as a ratio against it.

Run it with ``uvicorn tests.perf.bare_app:app --host 127.0.0.1 --port 8000``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

WEBHOOK_PATH = "/webhooks/twilio/sms"
HEALTH_PATH = "/healthz"

TWIML_OK = b'<?xml version="1.0" encoding="UTF-8"?><Response><Message>ok</Message></Response>'


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI application."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return

    method: str = scope["method"]
    path: str = scope["path"]
    if path == WEBHOOK_PATH:
        if method != "POST":
            await _respond(send, 405, b"text/plain; charset=utf-8", b"method not allowed")
            return
        body = await _read_body(receive)
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        if "MessageSid" not in form:
            await _respond(send, 400, b"text/plain; charset=utf-8", b"missing MessageSid")
            return
        await _respond(send, 200, b"application/xml", TWIML_OK)
    elif path == HEALTH_PATH and method in ("GET", "HEAD"):
        await _respond(send, 200, b"text/plain; charset=utf-8", b"ok")
    else:
        await _respond(send, 404, b"text/plain; charset=utf-8", b"not found")
