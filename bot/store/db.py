"""Engines and sessions: SQLite in WAL mode with one connection per process, PostgreSQL with a pool; errors that
show no bound parameter and no value PostgreSQL repeats (a phone number, a message's text)."""

from __future__ import annotations

import contextlib
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.store.checkpoints import Checkpointer, database_file, off_the_request_path

T = TypeVar("T")
_QUOTED = re.compile(r'"[^"]*"')


def is_transient(exc: BaseException) -> bool:
    """A failure that may pass on a retry: deadlock, serialisation failure, lock timeout, a lost connection."""
    return isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgresql:// URLs."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def without_values(original: BaseException, wrapped: BaseException | None) -> None:
    """PostgreSQL repeats values in its errors ('Key (channel, value)=(sms, +1…) already exists', 'Failing row
    contains (…)' on the lines after the first; 'value "…" is out of range for type integer' in a data error):
    the error keeps its first line, with a data error's (class 22) quoted values blanked; exc.orig.diag keeps all."""
    sqlstate = getattr(getattr(original, "diag", None), "sqlstate", None)
    if not isinstance(sqlstate, str):
        return  # not an error the server sent (a refused connection, a driver error)
    message = str(original).split("\n", 1)[0]
    if sqlstate.startswith("22"):
        message = _QUOTED.sub('"..."', message)
    original.args = (message,)
    if wrapped is not None:
        kind = type(original)
        wrapped.args = (f"({kind.__module__}.{kind.__name__}) {message}",)


def _without_values(context: ExceptionContext) -> None:
    without_values(context.original_exception, context.sqlalchemy_exception)


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for the store; SQLite gets WAL, foreign keys and a single shared connection. Bound parameters
    never appear in an error (they are what residents sent: numbers, messages)."""
    url = normalise_url(url)
    options.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            poolclass=StaticPool,
            connect_args={"check_same_thread": False, "isolation_level": None},
            **options,
        )
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # With the driver's autocommit off we begin ourselves; IMMEDIATE takes the write lock up front.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 10)
    options.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **options)
    event.listen(engine, "handle_error", _without_values)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


class Database:
    """The store of one process: engine, session factory, and the gate that serialises SQLite access."""

    def __init__(self, url: str, **options: Any) -> None:

        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **options)
        self.sessions = make_sessionmaker(self.engine)
        self.is_sqlite = self.url.startswith("sqlite")
        # SQLite has one connection per process: every unit of work takes this lock.
        self.lock = threading.RLock() if self.is_sqlite else None
        self.checkpointer: Checkpointer | None = None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work, serialised on SQLite, committed on success."""
        if self.lock is None:
            with transaction(self.sessions) as session:
                yield session
            return
        with self.lock, transaction(self.sessions) as session:
            yield session

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Run blocking database work from async code: inline on SQLite (one connection, no thread hand-offs
        fighting over the GIL), in a worker thread on PostgreSQL (where the wait is network I/O)."""
        if self.is_sqlite:
            return work(*args)
        return await to_thread.run_sync(work, *args)

    def round_trip_seconds(self, tries: int = 7) -> float:
        """How long one statement's round trip to the database takes (the median of a few `SELECT 1` on one
        pooled connection): zero for the embedded SQLite, ~0.05 ms to PostgreSQL on the same machine, 0.3 ms or
        more across a network."""
        if self.is_sqlite:
            return 0.0
        taken = []
        with self.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            with contextlib.closing(raw.cursor()) as cursor:
                for _ in range(tries):
                    started = time.perf_counter()
                    cursor.execute("SELECT 1").fetchall()
                    taken.append(time.perf_counter() - started)
        return statistics.median(taken)

    async def in_transaction(self, work: Callable[[Session], T]) -> T:
        """Run work(session) in one unit of work from async code (a request handler), as run() does."""

        def unit() -> T:
            with self.transaction() as session:
                return work(session)

        return await self.run(unit)

    def checkpoint_in_background(self) -> None:
        """For a long-running process on an SQLite file: WAL checkpoints in a thread of their own, not inside the
        commits that answer requests (bot.store.checkpoints; measured: p99 54 -> 36-44 ms on make bench's
        webhook leg). Nothing to do on PostgreSQL or in memory."""
        path = database_file(self.url) if self.is_sqlite else None
        if path is None or self.checkpointer is not None:
            return
        with self.lock or contextlib.nullcontext(), self.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            self.checkpointer = off_the_request_path(raw, path)  # type: ignore[arg-type]

    def dispose(self) -> None:
        """Close every connection (the background checkpoints' last one first)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self.engine.dispose()
