"""What every command shares: settings read once (an error is one line and exit 2), logging, and the one way to
open the runtime for a command and close it after."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import click

from bot.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from bot.runtime import Runtime
from bot.ids import MAX_RECORD_ID

# Any record's id on the command line: a positive whole number that fits the id columns.
RECORD_ID = click.IntRange(1, MAX_RECORD_ID)


def fail(message: str) -> NoReturn:
    """Stop the command: one line on stderr, exit status 2."""
    click.echo(f"loopline: {message}", err=True)
    sys.exit(2)


def settings_or_fail() -> Settings:
    """The settings from the environment, or one line naming the setting at fault."""
    try:
        return load_settings(os.environ)
    except SettingsError as exc:
        fail(str(exc))


def configure_logging(level: str) -> None:
    """One format for every process; the libraries' chatter at warnings only."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def open_runtime(settings: Settings, *, migrate: bool) -> Runtime:
    """The runtime on a database at the latest schema (migrated first when asked), or one line saying why not."""
    # Imported here, not above: a wrong setting or command line is answered before the database, provider and
    # web libraries load (1.5 s of every CLI call, dozens of calls in the suite).
    from sqlalchemy.exc import OperationalError  # noqa: PLC0415

    from bot.runtime import Runtime  # noqa: PLC0415
    from bot.store.migrate import is_current  # noqa: PLC0415

    runtime = Runtime(settings)
    try:
        if not migrate and not is_current(runtime.db.engine):
            fail("the database is not at the latest schema; run `loopline migrate` first")
        runtime.prepare(migrate=migrate)
    except OperationalError as exc:
        runtime.close()
        fail(f"LOOPLINE_DATABASE_URL: cannot open the database ({type(exc.orig).__name__})")
    return runtime


@contextmanager
def command_runtime(*, migrate: bool = False, log_level: str = "warning") -> Iterator[Runtime]:
    """The runtime a short command works with, closed when it is done (SQLite is migrated: it is this machine's)."""
    settings = settings_or_fail()
    configure_logging(log_level)
    runtime = open_runtime(settings, migrate=migrate or settings.is_sqlite)
    try:
        yield runtime
    finally:
        runtime.close()
