"""SQLite's WAL checkpoints run in a thread of their own for serve and worker: their connection never checkpoints
inside a commit, what they write is copied back into the database file within about a second, and closing stops
the thread after a last checkpoint; other processes (the CLI) keep SQLite's automatic checkpoints."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.store.checkpoints import database_file
from bot.store.db import Database


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///loopline.db", Path("loopline.db")),
        ("sqlite:////var/lib/loopline/db.sqlite", Path("/var/lib/loopline/db.sqlite")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
    ],
)
def test_the_file_of_a_url(url: str, path: Path | None) -> None:
    assert database_file(url) == path


def _autocheckpoint(db: Database) -> int:
    with db.transaction() as session:
        return int(session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def test_a_long_running_process_checkpoints_in_the_background(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'loopline.db'}")
    with db.transaction() as session:
        session.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    db.checkpoint_in_background()
    checkpointer = db.checkpointer
    assert checkpointer is not None
    assert _autocheckpoint(db) == 0  # the commits below only append to the log
    for _ in range(20):
        with db.transaction() as session:
            session.execute(text("INSERT INTO notes (body) VALUES (:body)"), [{"body": "x" * 500}] * 50)
    deadline = time.monotonic() + 5
    while checkpointer.frames == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpointer.frames > 0, "nothing was copied back within 5 s"
    assert checkpointer.running
    db.dispose()
    assert not checkpointer.running
    with sqlite3.connect(tmp_path / "loopline.db") as reader:
        assert reader.execute("SELECT count(*) FROM notes").fetchone() == (1000,)


def test_other_processes_keep_sqlites_own_checkpoints(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'loopline.db'}")
    try:
        assert db.checkpointer is None
        assert _autocheckpoint(db) == 1000
    finally:
        db.dispose()
