"""The `loopline` command line as a subprocess: help, settings errors, `chat`, `migrate`, and the
line `serve` prints at start."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e import (
    AREA_PROMPT,
    CONSENT_PROMPT,
    WELCOME,
    base_env,
    consent_question,
    expected,
    language_menu,
    translation,
)
from tests.support.peers import REPO_ROOT, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

COMMANDS = ("serve", "worker", "migrate", "chat")


def _env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """os.environ without the developer's LOOPLINE_* variables, a fresh database, then overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    env.update(base_env(tmp_path / "cli.db"), PYTHONUNBUFFERED="1")
    env.update(overrides)
    return env


def _run(args: list[str], tmp_path: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=_env(tmp_path, **env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


# ------------------------------------------------------------------------------------------
# Help
# ------------------------------------------------------------------------------------------


def test_top_level_help_lists_every_command(tmp_path: Path) -> None:
    result = _run(["--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    for command in COMMANDS:
        assert command in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("command", COMMANDS)
def test_command_help(command: str, tmp_path: Path) -> None:
    # Help must work without any setting, and even with bad ones (it is how you find the right ones).
    result = _run([command, "--help"], tmp_path, LOOPLINE_TIMEZONE="Mars/Base")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: python -m bot {command}")
    assert result.stderr == ""
    assert not (tmp_path / "cli.db").exists()  # --help opens no database


# ------------------------------------------------------------------------------------------
# Settings errors: status 2, one line on stderr naming the variable
# ------------------------------------------------------------------------------------------

TWILIO_TOKEN = {"LOOPLINE_TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN, "LOOPLINE_TWILIO_FROM": "+15005550006"}
TELEGRAM_TOKEN = {"LOOPLINE_TELEGRAM_TOKEN": "123456789:" + "A" * 35}

BAD_SETTINGS = [
    ("LOOPLINE_TWILIO_ACCOUNT_SID", {"LOOPLINE_TWILIO_ACCOUNT_SID": "bad", **TWILIO_TOKEN}),
    ("LOOPLINE_DEFAULT_LOCALE", {"LOOPLINE_DEFAULT_LOCALE": "klingon"}),
    ("LOOPLINE_TIMEZONE", {"LOOPLINE_TIMEZONE": "Mars/Base"}),
    ("LOOPLINE_DATABASE_URL", {"LOOPLINE_DATABASE_URL": "mysql://x"}),
    ("LOOPLINE_TELEGRAM_MODE", {"LOOPLINE_TELEGRAM_MODE": "carrier-pigeon", **TELEGRAM_TOKEN}),
    ("LOOPLINE_PUBLIC_URL", {"LOOPLINE_PUBLIC_URL": "ftp://x"}),
    ("LOOPLINE_TWILIO_AUTH_TOKEN", {"LOOPLINE_TWILIO_ACCOUNT_SID": TEST_ACCOUNT_SID}),
    ("LOOPLINE_TELEGRAM_SECRET", {**TELEGRAM_TOKEN, "LOOPLINE_TELEGRAM_MODE": "webhook"}),
    ("LOOPLINE_TRUSTED_PROXIES", {"LOOPLINE_TRUSTED_PROXIES": "10.0.0.2,the-proxy"}),
]  # fmt: skip


def _assert_one_line_naming(result: subprocess.CompletedProcess[str], variable: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("loopline: ") and variable in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(("variable", "env"), BAD_SETTINGS, ids=[v for v, _ in BAD_SETTINGS])
def test_bad_setting_stops_serve_with_one_line(variable: str, env: dict[str, str], tmp_path: Path) -> None:
    result = _run(["serve", "--port", str(free_port())], tmp_path, **env)
    _assert_one_line_naming(result, variable)
    assert not (tmp_path / "cli.db").exists()  # nothing was created before the settings were checked


@pytest.mark.parametrize("command", ["worker", "migrate", "chat"])
def test_bad_setting_stops_every_command(command: str, tmp_path: Path) -> None:
    result = _run([command], tmp_path, stdin="hi\n", LOOPLINE_TIMEZONE="Mars/Base")
    _assert_one_line_naming(result, "LOOPLINE_TIMEZONE")


def test_worker_refuses_an_unmigrated_database_with_one_line(tmp_path: Path) -> None:
    # BUG (bot/cli.py `_logging`): alembic's INFO lines ("setup plugin ...", "Context impl
    # SQLiteImpl.") come first, burying the one line that says what to do.
    result = _run(["worker"], tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "loopline: the database is not at the latest schema; run `loopline migrate` first"
    )
    _assert_one_line_naming(result, "loopline migrate")


def test_migrate_creates_the_schema_and_is_idempotent(tmp_path: Path) -> None:
    for _ in range(2):
        migrated = _run(["migrate"], tmp_path)
        assert migrated.returncode == 0, migrated.stderr
        assert migrated.stdout.strip() == "Database is at the latest schema."
        assert migrated.stderr == ""
    assert (tmp_path / "cli.db").is_file()


# ------------------------------------------------------------------------------------------
# chat
# ------------------------------------------------------------------------------------------


def _bot_lines(stdout: str) -> list[str]:
    """The bot's replies: each starts with "bot> " and runs until the next one."""
    replies: list[str] = []
    for line in stdout.splitlines():
        if line.startswith("bot> "):
            replies.append(line.removeprefix("bot> "))
        else:
            assert replies, f"output before the first reply: {line!r}"
            replies[-1] += "\n" + line
    return replies


def test_chat_onboarding_in_spanish(tmp_path: Path) -> None:
    result = _run(["chat", "--as", "ana"], tmp_path, stdin="hi\n2\nsi\n")
    assert result.returncode == 0, result.stderr
    replies = _bot_lines(result.stdout)
    assert replies == [
        language_menu(),
        consent_question("es"),
        expected("es", WELCOME),
        expected("es", AREA_PROMPT),
    ]
    if translation("es", CONSENT_PROMPT) is not None:
        # Once the Spanish catalog translates it, the question really is in Spanish.
        assert replies[1] != consent_question("en")
        assert "Would you like to join?" not in replies[1]

    # The conversation is kept: the same handle continues where it stopped.
    later = _run(["chat", "--as", "ana"], tmp_path, stdin="94110\n")
    assert later.returncode == 0, later.stderr
    assert len(_bot_lines(later.stdout)) == 2  # all set, and the offer of the questions about oneself


def test_chat_language_hint(tmp_path: Path) -> None:
    result = _run(["chat", "--as", "li", "--language", "zh-hans"], tmp_path, stdin="你好\n")
    assert result.returncode == 0, result.stderr
    (menu,) = _bot_lines(result.stdout)
    # The hint is enough: the prompt is in Chinese (once translated), and only in Chinese.
    assert menu == language_menu("zh_Hans", locale_known=True)


# ------------------------------------------------------------------------------------------
# serve's start-up line
# ------------------------------------------------------------------------------------------


def _first_stdout_line(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 20.0) -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buffer = b""
        while b"\n" not in buffer:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no start-up line within {timeout:g} s (got {buffer!r})"
            if selector.select(remaining):
                chunk = os.read(proc.stdout.fileno(), 4096)
                assert chunk, f"serve exited with {proc.wait()} before printing a line"
                buffer += chunk
        selector.close()
        return buffer.split(b"\n", 1)[0].decode()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_serve_start_up_line_names_channels_and_provider_urls(tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        tmp_path,
        LOOPLINE_TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
        LOOPLINE_TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
        LOOPLINE_TWILIO_FROM="+15005550006",
        LOOPLINE_PUBLIC_URL="https://loopline.example.org",
        # A closed port: nothing may be sent to real Twilio from a test.
        LOOPLINE_TWILIO_API_BASE=f"http://127.0.0.1:{free_port()}",
    )
    line = _first_stdout_line(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path)
    assert line.startswith(f"Loopline serving on http://127.0.0.1:{port}"), line
    assert "/webhooks/twilio/sms" in line
    assert "POST https://loopline.example.org/webhooks/twilio/sms" in line
    assert "sms" in line and f"simulator (http://127.0.0.1:{port}/simulator)" in line
    assert "telegram" not in line


def test_python_dash_m_bot_is_the_installed_loopline_command(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("loopline")
    if not script.exists():  # an install without console scripts still has `python -m bot`
        return
    result = subprocess.run(
        [str(script), "--help"], cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True,
        timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0 and "Usage: loopline" in result.stdout
    assert REPO_ROOT.is_dir()


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = _run(["serve", "--host", "127.0.0.1", "--port", str(port)], tmp_path)
    _assert_one_line_naming(result, "--port")
    assert f"cannot listen on 127.0.0.1:{port}: another program is listening there" in result.stderr


def test_version_and_chat_line_editing(tmp_path: Path) -> None:
    version = _run(["--version"], tmp_path)
    assert version.returncode == 0 and re.fullmatch(r"loopline \d+\.\d+\.\d+\n", version.stdout), version.stdout
    # Piped input is read line by line as before (the terminal gets readline's editing and history).
    chat = _run(["chat"], tmp_path, stdin="hi\n1\n")
    assert chat.returncode == 0 and chat.stdout.count("bot> ") >= 2, chat.stdout
