"""The `loopline` command line: serve, worker, migrate and chat (one click group)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import re
import secrets
import signal
import sys
from typing import NoReturn

import click

from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("loopline")


def _fail(message: str) -> NoReturn:
    click.echo(f"loopline: {message}", err=True)
    sys.exit(2)


def _settings() -> Settings:
    try:
        return load_settings(os.environ)
    except SettingsError as exc:
        _fail(str(exc))


def _logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _runtime(settings: Settings, *, migrate: bool):  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import OperationalError

    from bot.runtime import Runtime
    from bot.store.migrate import is_current

    runtime = Runtime(settings)
    try:
        if not migrate and not is_current(runtime.db.engine):
            _fail("the database is not at the latest schema; run `loopline migrate` first")
        runtime.prepare(migrate=migrate)
    except OperationalError as exc:
        _fail(f"LOOPLINE_DATABASE_URL: cannot open the database ({type(exc.orig).__name__})")
    return runtime


def startup_line(settings: Settings, local_url: str) -> str:
    """One line naming the live channels and the URL to give each provider."""
    public = settings.public_url or local_url
    parts = []
    if settings.twilio:
        parts.append(f"sms (Twilio messaging webhook: POST {public}/webhooks/twilio/sms)")
    if settings.telegram:
        where = f"webhook {public}/webhooks/telegram" if settings.telegram.mode == "webhook" else "polling"
        parts.append(f"telegram ({where})")
    if settings.simulator:
        parts.append(f"simulator ({local_url}/simulator)")
    return f"Loopline serving on {local_url} | live channels: {', '.join(parts) or 'none'}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Loopline: a multilingual SMS and Telegram gateway for two-way community engagement."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--no-delivery", is_flag=True, help="Leave sending to separate `loopline worker` processes.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Logging threshold.",
)
@click.option("--access-log", is_flag=True, help="Log every HTTP request (paths, query values redacted, never bodies).")
def serve(host: str, port: int, no_delivery: bool, log_level: str, access_log: bool) -> None:
    """Serve webhooks, the simulator, the scheduler and delivery in one process.

    The embedded SQLite database is migrated at start; a PostgreSQL database must be migrated with
    `loopline migrate` first.
    """
    import uvicorn

    from bot.web.access_log import log_config
    from bot.web.app import create_app

    settings = _settings()
    _logging(log_level)
    runtime = _runtime(settings, migrate=settings.is_sqlite)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    click.echo(startup_line(settings, f"http://{shown}:{port}"), err=False)
    sys.stdout.flush()
    app = create_app(runtime, deliver=not no_delivery)
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


@main.command()
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Logging threshold.",
)
def worker(log_level: str) -> None:
    """Send what the outbox holds (run several; they share the work through the database)."""
    settings = _settings()
    _logging(log_level)
    runtime = _runtime(settings, migrate=False)
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

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass
    finally:
        runtime.close()


@main.command()
def migrate() -> None:
    """Bring the database schema to the latest version (run once per deployment)."""
    settings = _settings()
    _logging("warning")
    runtime = _runtime(settings, migrate=True)
    runtime.close()
    click.echo("Database is at the latest schema.")


@main.command()
@click.option("--as", "handle", default=None, help="Simulated resident handle (default: cli-USER).")
@click.option("--language", default=None, help="A language hint, as Telegram would give (e.g. es, zh-hans).")
def chat(handle: str | None, language: str | None) -> None:
    """Talk to the bot in the terminal as a simulated resident, through the real pipeline."""
    from bot.channels import simulator
    from bot.channels.base import InvalidInbound

    settings = _settings()
    _logging("warning")
    runtime = _runtime(settings, migrate=settings.is_sqlite)
    user = re.sub(r"[^A-Za-z0-9_.-]", "", getpass.getuser())[:30] or "resident"
    handle = handle or f"cli-{user}"
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f"You are {handle}. Type a message; Ctrl-D to leave.")
    try:
        for line in sys.stdin:
            text = line.rstrip("\n")
            if interactive and not text:
                continue
            try:
                inbound = simulator.parse(handle, text, f"cli-{secrets.token_hex(12)}", runtime.clock.now(), language)
            except InvalidInbound as exc:
                _fail(str(exc))
            for outbound in runtime.pipeline.handle(inbound, reply_inline=True).immediate:
                click.echo(f"bot> {outbound.text}")
    finally:
        runtime.close()


def content_runtime(*, migrate: bool = False):  # type: ignore[no-untyped-def]
    """A runtime for content commands: settings from the environment, the schema current (SQLite migrates)."""
    settings = _settings()
    _logging("warning")
    return _runtime(settings, migrate=migrate or settings.is_sqlite)


def _register() -> None:
    from bot.cli_broadcast import broadcast
    from bot.cli_content import demo, flows, polls, results
    from bot.cli_residents import residents
    from bot.cli_users import users

    for command in (flows, polls, results, demo, broadcast, users, residents):
        main.add_command(command)


_register()
