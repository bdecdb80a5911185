"""The long-running processes: `serve` (webhooks, simulator, dashboard, API, and delivery unless told not to) and
`worker` (delivery only; run several)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import signal
import socket
import sys
from typing import TYPE_CHECKING

import click

from bot.cli.context import configure_logging, fail, open_runtime, settings_or_fail
from bot.settings import Settings

if TYPE_CHECKING:
    from bot.runtime import Runtime

LOG_LEVEL = click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Logging threshold.",
)


def settle() -> None:
    """Once a long-running process has loaded what it needs (libraries, flows, catalogs), keep the collector from
    walking all of it again and again: a full collection of it paused every request in flight for about 70 ms."""
    gc.collect()
    gc.freeze()


def startup_line(settings: Settings, local_url: str) -> str:
    """One line naming the live channels and the URL to give each provider."""
    public = settings.public_url or local_url
    parts = []
    twilio = settings.twilio
    if twilio and twilio.sms:
        parts.append(f"sms (Twilio messaging webhook: POST {public}/webhooks/twilio/sms)")
    if twilio and twilio.whatsapp_from:
        parts.append(f"whatsapp (the WhatsApp sender's webhook: POST {public}/webhooks/twilio/sms)")
    if settings.telegram:
        where = f"webhook {public}/webhooks/telegram" if settings.telegram.mode == "webhook" else "polling"
        parts.append(f"telegram ({where})")
    if settings.simulator:
        parts.append(f"simulator ({local_url}/simulator)")
    line = f"Loopline serving on {local_url} | live channels: {', '.join(parts) or 'none'}"
    if not settings.public_url:
        line += " | LOOPLINE_PUBLIC_URL not set: decision notices will go without their public link"
    return line


def storage_or_fail(runtime: Runtime) -> None:
    """One line and exit status 2 when the media folder cannot be written (the files residents send would be lost)."""
    from bot.media.storage import StorageError  # noqa: PLC0415

    try:
        runtime.storage.check()
    except StorageError as exc:
        runtime.close()
        fail(f"LOOPLINE_MEDIA_DIR: {exc}; give a folder this process can write to")


def _check_free(host: str, port: int) -> None:
    """One line and exit status 2 when the address cannot be listened on (another server has the port), before
    anything says it is serving."""
    try:
        socket.create_server((host, port)).close()
    except OSError as exc:
        reason = "another program is listening there" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        fail(f"--port: cannot listen on {host}:{port}: {reason}; stop it or give another --port")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--no-delivery", is_flag=True, help="Leave sending to separate `loopline worker` processes.")
@LOG_LEVEL
@click.option("--access-log", is_flag=True, help="Log every HTTP request (paths, query values redacted, never bodies).")
def serve(host: str, port: int, no_delivery: bool, log_level: str, access_log: bool) -> None:
    """Serve webhooks, the simulator, the scheduler and delivery in one process.

    The embedded SQLite database is migrated at start; a PostgreSQL database must be migrated with
    `loopline migrate` first.
    """
    settings = settings_or_fail()
    # Imported once the settings are known good: a wrong one is answered before the web stack loads.
    import uvicorn  # noqa: PLC0415

    from bot.web.access_log import log_config  # noqa: PLC0415
    from bot.web.app import create_app  # noqa: PLC0415

    _check_free(host, port)
    configure_logging(log_level)
    runtime = open_runtime(settings, migrate=settings.is_sqlite)
    storage_or_fail(runtime)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    click.echo(startup_line(settings, f"http://{shown}:{port}"), err=False)
    sys.stdout.flush()
    app = create_app(runtime, deliver=not no_delivery)
    runtime.db.checkpoint_in_background()
    settle()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
            log_config=log_config(),  # the access log names paths, never a query value
            proxy_headers=False,  # X-Forwarded-For is read by bot.web.proxies alone (LOOPLINE_TRUSTED_PROXIES)
            timeout_graceful_shutdown=10,
        )
    finally:
        runtime.close()


@click.command()
@LOG_LEVEL
def worker(log_level: str) -> None:
    """Send what the outbox holds (run several; they share the work through the database)."""
    settings = settings_or_fail()
    configure_logging(log_level)
    runtime = open_runtime(settings, migrate=False)
    storage_or_fail(runtime)
    click.echo(f"Loopline worker sending on: {', '.join(settings.live_channels) or 'no channel'}")

    async def run() -> None:
        scheduler = runtime.scheduler()
        running = True
        # Containers stop processes with SIGTERM: finish the message in hand, hand the rest of the batch back
        # at once (another worker sends it), and leave.
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(stop_signal, runtime.worker.stop)
        connecting = None
        if runtime.telegram:  # an unreachable Bot API is retried in the background; SMS goes on meanwhile
            await runtime.connect_telegram(register=False)
            connecting = asyncio.create_task(runtime.keep_telegram_up(None, lambda: running))
        try:
            await runtime.worker.run_forever()
        finally:
            running = False
            scheduler.shutdown(wait=False)
            if connecting is not None:
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connecting
            if runtime.telegram:
                await runtime.telegram.stop()

    runtime.db.checkpoint_in_background()
    settle()
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()
