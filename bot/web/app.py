"""The web application: health check, provider webhooks and the simulator, with the delivery loop alongside."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.channels.telegram import WEBHOOK_PATH
from bot.channels.twilio_sms import SMS_PATH, STATUS_PATH
from bot.runtime import Runtime
from bot.web import dashboard, simulator
from bot.web.proxies import TrustedProxies
from bot.web.rendering import TEMPLATES_DIR
from bot.web.security_headers import HeadedApp
from bot.web.webhooks import telegram as telegram_webhook
from bot.web.webhooks import twilio as twilio_webhook

log = logging.getLogger("loopline.web")


async def healthz(request: Request) -> Response:
    """GET /healthz: 200 when the database answers."""
    runtime: Runtime = request.app.state.runtime

    def ping(session: Session) -> None:
        session.execute(text("SELECT 1"))

    try:
        await runtime.db.in_transaction(ping)
    except Exception:
        log.exception("health check failed")
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    body: dict[str, object] = {"status": "ok", "channels": runtime.settings.live_channels}
    if runtime.down:
        body["down"] = dict(runtime.down)  # a provider out of reach: this process still serves the rest
    return JSONResponse(body)


async def home(request: Request) -> Response:
    """GET /: the dashboard (which asks staff to sign in)."""
    return RedirectResponse("/dashboard", status_code=307)


@contextlib.asynccontextmanager
async def _background(runtime: Runtime, deliver: bool) -> AsyncIterator[None]:
    tasks: list[asyncio.Task[None]] = []
    scheduler = runtime.scheduler() if deliver else None
    if deliver:
        tasks.append(asyncio.create_task(runtime.worker.run_forever(), name="delivery"))
    telegram = runtime.telegram
    running = True
    if telegram is not None:
        await runtime.connect_telegram(register=True)  # once now; the task below retries while it is down
        tasks.append(
            asyncio.create_task(
                runtime.keep_telegram_up(
                    lambda data: telegram_webhook.handle_telegram_update(runtime, data), lambda: running
                ),
                name="telegram",
            )
        )
    try:
        yield
    finally:
        running = False
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
        # The delivery loop finishes the message in hand and hands the rest of its batch back.
        runtime.worker.stop()
        if deliver:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(tasks[0]), timeout=8)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if telegram is not None:
            await telegram.stop()


def create_app(runtime: Runtime, *, deliver: bool = True) -> Starlette:
    """The ASGI app of one process; deliver=False leaves sending to separate `loopline worker` processes."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with _background(runtime, deliver):
            yield

    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/healthz", healthz),
        Route(SMS_PATH, twilio_webhook.twilio_sms, methods=["POST"]),
        Route(STATUS_PATH, twilio_webhook.twilio_status, methods=["POST"]),
        Route(WEBHOOK_PATH, telegram_webhook.telegram_update, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(TEMPLATES_DIR.parent / "static")), name="static"),
        *dashboard.routes(),
    ]
    if runtime.settings.simulator:
        routes += [
            Route("/simulator", simulator.page, methods=["GET"]),
            Route("/simulator", simulator.post_form, methods=["POST"]),
            Route("/simulator/api/messages", simulator.api_send, methods=["POST"]),
            Route("/simulator/api/messages", simulator.api_messages, methods=["GET"]),
        ]
    app = HeadedApp(
        https=(runtime.settings.public_url or "").startswith("https://"),
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(TrustedProxies, trusted=runtime.settings.trusted_proxies)],
    )
    app.state.runtime = runtime
    return app
