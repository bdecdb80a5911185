"""Content files past test_edges' YAML limits: an alias inside what it names, a number beyond 64 bits, an event's
capacity or time and a text answer's length out of range are refused in one line alike by `flows validate` and
`flows load` (validate said ok, load crashed); the alias bomb within bounded memory; every shipped file still loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.cli.content import DEMO_DIR
from bot.conversation.flows.loader import DEFINITIONS_DIR
from bot.runtime import Runtime
from tests.test_edges import ALIAS_BOMB

SHIPPED = sorted(DEMO_DIR.glob("*.yaml")) + sorted(DEFINITIONS_DIR.glob("*.yaml"))
FEEDBACK = (DEFINITIONS_DIR / "feedback.yaml").read_text(encoding="utf-8")
POLL = (DEMO_DIR / "health-priorities.yaml").read_text(encoding="utf-8")
EVENT = (DEMO_DIR / "town-hall.yaml").read_text(encoding="utf-8")
HUGE = "99999999999999999999"  # beyond 64 bits
LONG_SLUG = "s" * 60  # fits no slug column once a poll's flow is named poll-<slug> (and the dashboard takes 50)
SLUG_RULE = f"slug '{'s' * 24}...' has 60 characters: use 1 to 50 lower-case letters"

# file name -> (its text, what the one line says)
BAD_FILES = {
    "flow-self-alias.yaml": (FEEDBACK + "extra: &loop [1, *loop]\n", "*loop is inside what it names"),
    "poll-self-alias.yaml": (POLL + "extra: &loop {again: *loop}\n", "*loop is inside what it names"),
    "event-huge-capacity.yaml": (EVENT.replace("capacity: 2\n", f"capacity: {HUGE}\n"), "beyond 64 bits"),
    "event-int4-capacity.yaml": (EVENT.replace("capacity: 2\n", "capacity: 3000000000\n"), "capacity must be"),
    "event-year-9999.yaml": (
        EVENT.replace("starts_at: 2026-12-19T18:00\nends_at: 2026-12-19T19:30\n", "starts_at: 9999-12-31T23:30\n"),
        "from 2000 to 2100",
    ),
    "event-long-slug.yaml": (EVENT.replace("slug: town-hall\n", f"slug: {LONG_SLUG}\n"), SLUG_RULE),
    "poll-long-slug.yaml": (POLL.replace("slug: health-priorities\n", f"slug: {LONG_SLUG}\n"), SLUG_RULE),
    "flow-long-slug.yaml": (FEEDBACK.replace("slug: feedback\n", f"slug: {LONG_SLUG}\n"), SLUG_RULE),
    "poll-long-question-id.yaml": (POLL.replace("id: top_need\n", f"id: {'q' * 65}\n"), "question must be an id"),
    "poll-long-results-url.yaml": (
        POLL.replace("slug: health-priorities\n", f"slug: health-priorities\nresults_url: https://{'r' * 300}\n"),
        "results link must be at most 300",
    ),
    "poll-results-url-list.yaml": (
        POLL.replace("slug: health-priorities\n", "slug: health-priorities\nresults_url: [https://a.example]\n"),
        "results link must start with https://",
    ),
    "flow-text-length-word.yaml": (FEEDBACK.replace("max_length: 4000", "max_length: lots"), "max_length must be"),
    "flow-text-length-negative.yaml": (FEEDBACK.replace("max_length: 4000", "max_length: -5"), "max_length must be"),
    "flow-text-length-huge.yaml": (FEEDBACK.replace("max_length: 4000", "max_length: 10000000"), "max_length must be"),
}


def _one_line(result: Result, status: int) -> str:
    assert result.exit_code == status, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_the_bad_files_differ_from_the_shipped_ones() -> None:
    originals = {FEEDBACK, POLL, EVENT}
    assert [name for name, (text, _reason) in BAD_FILES.items() if text in originals] == []


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_content_file_is_refused_alike_by_validate_and_load(runtime: Runtime, tmp_path: Path, name: str) -> None:
    text, reason = BAD_FILES[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    for command in ("validate", "load"):
        line = _one_line(CliRunner().invoke(main, ["flows", command, str(path)], env=env), status=1)
        assert name in line and reason in line, (command, line)


@pytest.mark.parametrize("command", ["preview", "send"])
def test_a_broadcast_name_longer_than_its_column_is_refused_in_one_line(
    runtime: Runtime, tmp_path: Path, command: str
) -> None:
    notice = tmp_path / "long-name.yaml"
    notice.write_text(f"name: {'n' * 121}\ntext:\n  en: The clinic is closed on Monday.\n", encoding="utf-8")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    line = _one_line(CliRunner().invoke(main, ["broadcast", command, str(notice)], env=env), status=1)
    assert "name must be 1 to 120 characters" in line, line


def test_every_shipped_content_file_validates_and_loads(runtime: Runtime) -> None:
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    files = [str(path) for path in SHIPPED]
    assert len(files) >= 7, files
    for command in ("validate", "load"):
        result = CliRunner().invoke(main, ["flows", command, *files], env=env)
        assert result.exit_code == 0, (command, result.output)


MEMORY_LIMIT = 1024**3  # address space for a whole `loopline` process; the alias bomb, expanded, needs far more
# The CLI under a memory limit (set in the child itself: no preexec_fn in a test process that may have threads).
LIMITED_CLI = (
    "import resource, runpy, sys\n"
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))\n"
    "sys.argv = ['loopline', *sys.argv[1:]]\n"
    "runpy.run_module('bot', run_name='__main__')\n"
)


@pytest.mark.parametrize("command", ["validate", "load"])
def test_the_alias_bomb_is_refused_within_bounded_memory(tmp_path: Path, command: str) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(FEEDBACK + ALIAS_BOMB, encoding="utf-8")  # a valid flow but for its 9**9 expanded values
    env = {**os.environ, "LOOPLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'bomb.db'}"}
    done = subprocess.run(
        [sys.executable, "-c", LIMITED_CLI, "flows", command, str(bomb)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert done.stderr.count("\n") == 1 and "aliases are expanded" in done.stderr, done.stderr[-2000:]
