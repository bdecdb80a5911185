"""SQLite's WAL checkpoints off the request path: a long-running process's connection never checkpoints inside a
commit (copying pages back with two fsyncs while the event loop waits: make bench's webhook p99 54 ms with them,
38-41 without) and a thread of its own, on its own connection, checkpoints once a second without blocking anyone
(PASSIVE). Under an unbroken stream of writes a PASSIVE checkpoint never quite catches up and the log grows (~12 MB
a second at this machine's most); past 1 GB the thread checkpoints even if a writer must wait (RESTART), which
bounds it. What is committed reaches the disk within about a second, where the automatic checkpoint waited for
1,000 pages.

"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger("loopline.store")
EVERY_SECONDS = 1.0
RESTART_FROM_BYTES = 1024 * 1024 * 1024
LOG_KEPT_BYTES = 64 * 1024 * 1024  # the log file is cut back to this when it starts over


class Checkpointer:
    """The background checkpoints of one database file."""

    def __init__(self, path: Path, *, every: float = EVERY_SECONDS) -> None:
        self.path = path
        self.every = every
        self.runs = 0
        self.frames = 0  # pages copied back into the database file so far
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sqlite-checkpoints", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the thread still runs."""
        return self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        connection = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        try:
            while not self._stop.wait(self.every):
                self.checkpoint(connection)
            self.checkpoint(connection)  # what the last second wrote
        finally:
            connection.close()

    def checkpoint(self, connection: sqlite3.Connection) -> None:
        """One checkpoint (a failure is logged and the next second tries again)."""
        wal = self.path.with_name(self.path.name + "-wal")
        mode = "RESTART" if wal.exists() and wal.stat().st_size > RESTART_FROM_BYTES else "PASSIVE"
        try:
            _busy, _logged, copied = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        except sqlite3.Error as exc:
            log.warning("SQLite checkpoint failed (%s); trying again in a second", type(exc).__name__)
            return
        self.runs += 1
        if copied > 0:
            self.frames += copied


def database_file(url: str) -> Path | None:
    """The file of a sqlite:/// URL (as SQLAlchemy reads it); None for an in-memory database."""
    path = make_url(url).database
    return None if not path or path == ":memory:" else Path(path)


def off_the_request_path(raw_connection: sqlite3.Connection, path: Path) -> Checkpointer:
    """Stop the process's connection checkpointing in its commits, and checkpoint in a thread instead."""
    with contextlib.closing(raw_connection.cursor()) as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.execute(f"PRAGMA journal_size_limit={LOG_KEPT_BYTES}")
    checkpointer = Checkpointer(path)
    checkpointer.start()
    return checkpointer
