"""Every command that opens the database, found in the CLI's command tree, stops in one line with exit status 2 when
LOOPLINE_DATABASE_URL names a driver Loopline cannot use (whatever SQLAlchemy itself would say of it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.conversation.flows.loader import DEFINITIONS_DIR
from bot.settings import load_settings
from bot.store.db import make_engine

NO_DATABASE = {("flows", "validate")}  # checks files only
UNUSABLE = [
    "foo://somewhere/db",
    "mysql://user@localhost/loopline",  # no MySQL driver is installed, nor would the schema run there
    "postgres+psycopg://localhost/loopline",  # SQLAlchemy knows no "postgres" dialect (only postgresql)
    "postgresql+psycopg2://localhost/loopline",  # psycopg 2 is not installed
    "sqlite+aiosqlite:///loopline.db",
    "sqlite://",  # in memory: lost when the process ends, and every process would have its own
    "sqlite:///:memory:",
]
USABLE = [
    "sqlite:///loopline.db",
    "sqlite+pysqlite:///loopline.db",
    "postgres://localhost/loopline",
    "postgresql://localhost/loopline",
    "postgresql+psycopg://localhost/loopline",
]


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def _arguments(command: click.Command, folder: Path) -> list[str]:
    """Values for the command's required parameters (and an id where one is asked for), so that it gets as far as
    opening the database."""
    notice = folder / "notice.yaml"
    notice.write_text("name: Notice\ntext:\n  en: The clinic is closed on Monday.\n", encoding="utf-8")
    password = folder / "password.txt"
    password.write_text("a long enough password\n", encoding="utf-8")
    values = {
        "file": str(notice),
        "files": str(DEFINITIONS_DIR / "feedback.yaml"),
        "password_file": str(password),
        "email": "someone@example.org",
        "slug": "parks",
        "resident_id": "1",
        "broadcast_id": "1",
        "token_id": "1",
        "spelling": "la mision",
        "code": "mission",
    }
    found: list[str] = []
    for param in command.params:
        wanted = param.required or param.name in ("resident_id", "token_id", "password_file")
        if not wanted or param.name is None:
            continue
        value = param.type.choices[0] if isinstance(param.type, click.Choice) else values[param.name]
        found += [param.opts[0], str(value)] if isinstance(param, click.Option) else [str(value)]
    return found


def test_the_command_tree_has_the_commands_that_open_the_database() -> None:
    paths = {path for path, _command in _commands(main)}
    assert {("migrate",), ("serve",), ("worker",), ("flows", "load"), ("users", "create")} <= paths
    assert len(paths) >= 20, paths


@pytest.mark.parametrize("url", UNUSABLE)
def test_every_command_refuses_a_database_driver_it_cannot_use_in_one_line(url: str, tmp_path: Path) -> None:
    for path, command in _commands(main):
        if path in NO_DATABASE:
            continue
        args = [*path, *_arguments(command, tmp_path)]
        result = CliRunner().invoke(main, args, env={"LOOPLINE_DATABASE_URL": url}, input="")
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert (result.exit_code, len(lines)) == (2, 1), (args, result.exit_code, result.stderr, result.exception)
        assert lines[0].startswith("loopline: LOOPLINE_DATABASE_URL: "), (args, lines[0])


@pytest.mark.parametrize("url", USABLE)
def test_every_url_the_settings_take_has_a_driver_to_open_it(url: str) -> None:
    engine = make_engine(load_settings({"LOOPLINE_DATABASE_URL": url}).database_url)  # loads the dialect, no connection
    engine.dispose()
