"""Bad input at the edges gets one line and a clear exit status, never a traceback: settings (database drivers,
prices, rates, caps, reminder lead times), ids on the command line, a send time in the past, and content files
(aliases that expand too far, duplicate keys, depth, size) refused alike by `flows validate`, `flows load` and
`broadcast preview`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli.context import RECORD_ID
from bot.runtime import Runtime
from bot.settings import SettingsError, load_settings

BAD_SETTINGS = [
    ("LOOPLINE_DATABASE_URL", "foo://somewhere/db"),
    ("LOOPLINE_DATABASE_URL", "mysql://user@localhost/loopline"),
    ("LOOPLINE_DATABASE_URL", "postgresql+asyncpg://localhost/loopline"),
    ("LOOPLINE_DATABASE_URL", "sqlite+nosuchdriver:///loopline.db"),
    ("LOOPLINE_EVENT_REMINDERS", "99999999999h"),
    ("LOOPLINE_EVENT_REMINDERS", "24h,1500h"),
    ("LOOPLINE_SMS_PRICE_PER_SEGMENT", "nan"),
    ("LOOPLINE_SMS_PRICE_PER_SEGMENT", "inf"),
    ("LOOPLINE_SMS_PRICE_PER_SEGMENT", "-0.01"),
    ("LOOPLINE_SMS_PRICE_PER_SEGMENT", "1e309"),
    ("LOOPLINE_TWILIO_SEGMENTS_PER_SECOND", "0"),
    ("LOOPLINE_TWILIO_SEGMENTS_PER_SECOND", "1e-9"),
    ("LOOPLINE_TWILIO_SEGMENTS_PER_SECOND", "nan"),
    ("LOOPLINE_TWILIO_SEGMENTS_PER_SECOND", "inf"),
    ("LOOPLINE_FREQUENCY_CAP", "3/0d"),
    ("LOOPLINE_FREQUENCY_CAP", "3/99999999999d"),
    ("LOOPLINE_FREQUENCY_CAP", "99999999999999/7d"),
]
HUGE = "99999999999999999999"  # beyond 64 bits


def _one_line_error(result: Result, status: int = 2) -> str:
    assert result.exit_code == status, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(("variable", "value"), BAD_SETTINGS)
def test_a_bad_setting_is_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({variable: value})
    assert refused.value.variable == variable


@pytest.mark.parametrize(("variable", "value"), BAD_SETTINGS)
def test_a_bad_setting_stops_a_command_in_one_line(variable: str, value: str, tmp_path: Path) -> None:
    env = {"LOOPLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'edge.db'}", variable: value}
    line = _one_line_error(CliRunner().invoke(main, ["migrate"], env=env))
    assert line.startswith(f"loopline: {variable}: "), line


def test_the_settings_that_are_fine_still_are() -> None:
    settings = load_settings(
        {
            "LOOPLINE_DATABASE_URL": "postgresql+psycopg://localhost/loopline",
            "LOOPLINE_EVENT_REMINDERS": "1440h,90m",
            "LOOPLINE_SMS_PRICE_PER_SEGMENT": "0",
            "LOOPLINE_TWILIO_SEGMENTS_PER_SECOND": "0.5",
            "LOOPLINE_FREQUENCY_CAP": "0/7d",
        }
    )
    assert settings.event_reminders[0].days == 60 and settings.frequency_cap[0] == 0


def _commands_taking_ids(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(command path, the option or argument that takes a record id) for every command of the CLI."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands_taking_ids(command, (*path, name))
            continue
        for param in command.params:
            if param.type is RECORD_ID or (isinstance(param.type, click.types.IntParamType) and "id" in param.name):
                yield (*path, name), (param.opts[0] if isinstance(param, click.Option) else "")


def test_every_id_on_the_command_line_is_a_bounded_record_id() -> None:
    found = list(_commands_taking_ids(main))
    assert len(found) >= 3, found
    loose = [
        (path, option)
        for path, option in found
        for command in [_command(path)]
        for param in command.params
        if (not option or option in param.opts) and "id" in (param.name or "") and param.type is not RECORD_ID
    ]
    assert loose == []


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


@pytest.mark.parametrize("bad_id", [HUGE, str(2**63 - 1), "3000000000", "0"])  # ids are 32-bit on PostgreSQL
def test_an_id_out_of_range_is_one_line(runtime: Runtime, bad_id: str) -> None:
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    required = {("users", "revoke-token"): ["--email", "nobody@example.org"]}
    for path, option in _commands_taking_ids(main):
        args = [*path, *required.get(path, []), *([option, bad_id] if option else [bad_id])]
        line = _one_line_error(CliRunner().invoke(main, args, env=env))
        assert line.startswith("loopline: ") and "range" in line, (args, line)


def test_a_send_time_in_the_past_is_refused_in_one_line(runtime: Runtime, tmp_path: Path) -> None:
    message = tmp_path / "notice.yaml"
    message.write_text("name: Notice\ntext:\n  en: The clinic is closed on Monday.\n", encoding="utf-8")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    result = CliRunner().invoke(main, ["broadcast", "send", str(message), "--at", "2001-01-01T09:00Z"], env=env)
    assert "has passed" in _one_line_error(result)


@pytest.mark.parametrize("at", ["9999-12-31T23:59-14:00", "9999-12-31T23:59", "2099-01-01T09:00Z"])
def test_a_send_time_years_ahead_is_refused_in_one_line(runtime: Runtime, tmp_path: Path, at: str) -> None:
    message = tmp_path / "notice.yaml"
    message.write_text("name: Notice\ntext:\n  en: The clinic is closed on Monday.\n", encoding="utf-8")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    result = CliRunner().invoke(main, ["broadcast", "send", str(message), "--at", at], env=env)
    assert "more than a year ahead" in _one_line_error(result)
    later = (datetime.now(UTC) + timedelta(days=300)).isoformat()  # the command runs on the real clock
    assert CliRunner().invoke(main, ["broadcast", "send", str(message), "--at", later], env=env).exit_code == 0


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)
HOSTILE_FILES = {
    "alias-bomb.yaml": (ALIAS_BOMB, "aliases are expanded"),
    "duplicate.yaml": ("kind: poll\nslug: parks\nslug: clinics\n", "'slug' is given twice"),
    "deep.yaml": ("kind: poll\nslug: " + "[" * 40 + "]" * 40 + "\n", "levels deep"),
    "huge.yaml": ("kind: poll\ntitle: '" + "x" * (1100 * 1024) + "'\n", "larger than 1024 KiB"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_a_hostile_content_file_is_refused_alike_everywhere(runtime: Runtime, tmp_path: Path, name: str) -> None:
    text, reason = HOSTILE_FILES[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    for command in (["flows", "validate"], ["flows", "load"], ["broadcast", "preview"]):
        started = time.monotonic()
        result = CliRunner().invoke(main, [*command, str(path)], env=env)
        line = _one_line_error(result, status=1)  # a file's content, not the command line
        assert name in line and reason in line, (command, line)
        assert time.monotonic() - started < 10, command  # refused before anything is built
