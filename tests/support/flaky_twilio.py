"""A stand-in for Twilio's Messages API that fails on a schedule: 500 for the first N sends, 429 for a share of the
rest, and records every message it accepted with the moment it arrived (this process's monotonic clock).

Served by uvicorn in a thread on loopback; `loopline worker` processes reach it through LOOPLINE_TWILIO_API_BASE,
with the real twilio client. Only what Loopline calls is answered: the account read (warm-up) and message create.
"""

from __future__ import annotations

import contextlib
import random
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.peers import free_port


@dataclass
class FlakyTwilio:
    """The failure schedule and what was accepted."""

    fail_first: int = 40
    throttle_share: float = 0.10
    seed: int = 7
    accepted: list[tuple[str, str, float]] = field(default_factory=list)  # (to, body, arrived)
    forms: list[dict[str, str]] = field(default_factory=list)  # every accepted request's whole form
    refused: dict[int, int] = field(default_factory=dict)  # status -> count
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    async def create(self, request: Request) -> JSONResponse:
        form = await request.form()
        arrived = time.monotonic()
        with self.lock:
            self.requests += 1
            if self.requests <= self.fail_first:
                status, code = 500, 20500
            elif self.rng.random() < self.throttle_share:
                status, code = 429, 20429
            else:
                status, code = 201, 0
                self.accepted.append((str(form.get("To", "")), str(form.get("Body", "")), arrived))
                self.forms.append({key: str(value) for key, value in form.items()})
            if status != 201:
                self.refused[status] = self.refused.get(status, 0) + 1
        if status != 201:
            return JSONResponse({"code": code, "message": "try again", "status": status}, status_code=status)
        sid = "SM" + secrets.token_hex(16)
        return JSONResponse({"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body")}, 201)

    async def account(self, request: Request) -> JSONResponse:
        return JSONResponse({"sid": request.path_params["sid"], "status": "active"})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self.create, methods=["POST"]),
                Route("/2010-04-01/Accounts/{sid}.json", self.account, methods=["GET"]),
            ]
        )


@contextlib.contextmanager
def flaky_twilio(**schedule: float) -> Iterator[FlakyTwilio]:
    """Serve a FlakyTwilio on a free loopback port for the duration of the block."""
    provider = FlakyTwilio(**schedule)  # type: ignore[arg-type]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="flaky-twilio", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the Twilio stand-in did not start")
        time.sleep(0.02)
    provider.base_url = f"http://127.0.0.1:{port}"
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
