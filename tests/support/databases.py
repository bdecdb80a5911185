"""The suite's databases: migrated once per run (per xdist worker), and a fresh one for each test in milliseconds.

SQLite: each test copies a migrated file. PostgreSQL: each xdist worker has one database of its own, migrated once;
before each test it is put back to its migrated state in one transaction (every row deleted, the built-in flows
put back, sequences rewound), which takes ~5 ms where CREATE DATABASE … TEMPLATE takes 150-400 ms and running the
migrations ~0.5 s. tests/test_migrations.py runs the migrations themselves, up and down, on empty databases.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, insert, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError

from bot.store.db import normalise_url

POSTGRES_URL = os.environ.get("LOOPLINE_TEST_POSTGRES_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])
_CONNECT = {"connect_timeout": 5}
T = TypeVar("T")


def postgres_unreachable(url: str, exc: BaseException) -> NoReturn:
    """Fail the test with one line naming the server, instead of a cascade of tracebacks."""
    lines = str(getattr(exc, "orig", exc)).strip().splitlines()
    pytest.fail(f"PostgreSQL at {url} cannot be reached: {lines[0] if lines else type(exc).__name__}", pytrace=False)


@contextlib.contextmanager
def postgres_admin() -> Iterator[Connection]:
    """An autocommit connection to the test server (databases and schemas are made and dropped through it)."""
    engine = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT", connect_args=_CONNECT)
    try:
        with _reachable(engine.connect) as connection:
            yield connection
    finally:
        engine.dispose()


def _reachable(work: Callable[[], T]) -> T:
    """work(), or the one-line failure when the server cannot be reached (outside the except clause, so that the
    report does not chain the driver's traceback)."""
    try:
        return work()
    except OperationalError as exc:
        problem = exc
    postgres_unreachable(POSTGRES_URL, problem)


def _quietly(sql: str) -> None:
    """Clean-up on the server; nothing to do when it has gone away."""
    with contextlib.suppress(OperationalError, pytest.fail.Exception), postgres_admin() as admin:
        admin.execute(text(sql))


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """An empty PostgreSQL schema of its own, dropped afterwards: the URL that makes it the search path."""
    schema = f"t_{secrets.token_hex(6)}"
    with postgres_admin() as admin:
        admin.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        _quietly(f'DROP SCHEMA "{schema}" CASCADE')


class PostgresScratch:
    """A database of this worker's, migrated once, reset to that state before each test."""

    def __init__(self, migrate: Callable[[str], None]) -> None:
        self.name = f"loopline_test_{secrets.token_hex(4)}"
        with postgres_admin() as admin:
            admin.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(POSTGRES_URL).set(database=self.name).render_as_string(hide_password=False)
        migrate(self.url)
        self.engine: Engine = create_engine(normalise_url(self.url), connect_args=_CONNECT)
        metadata = MetaData()
        with self.engine.connect() as connection:
            metadata.reflect(connection)
            self.tables = [t for t in metadata.sorted_tables if t.name != "alembic_version"]
            self.rows: list[tuple[Table, list[dict[str, Any]]]] = [
                (table, [dict(row._mapping) for row in connection.execute(table.select())]) for table in self.tables
            ]
            sequences = connection.execute(text("SELECT sequencename, last_value FROM pg_sequences"))
            self.sequences = {name: last for name, last in sequences}

    def _reset(self) -> None:
        with self.engine.begin() as connection:
            connection.exec_driver_sql("SET LOCAL lock_timeout = '5s'")
            # Children before parents, in one round trip.
            connection.exec_driver_sql("; ".join(f'DELETE FROM "{t.name}"' for t in reversed(self.tables)))
            for table, rows in self.rows:
                if rows:
                    connection.execute(insert(table), rows)
            rewind = ", ".join(
                f"setval('\"{name}\"', {last or 1}, {'true' if last else 'false'})"
                for name, last in self.sequences.items()
            )
            connection.exec_driver_sql(f"SELECT {rewind}")

    def fresh(self) -> str:
        """The database back at its migrated state; its URL. A connection a previous test left holding locks is
        ended rather than waited for."""
        _reachable(self._reset_ending_stragglers)
        return self.url

    def _reset_ending_stragglers(self) -> None:
        try:
            self._reset()
        except DBAPIError as exc:
            if exc.connection_invalidated or "lock timeout" not in str(exc):
                raise
            _quietly(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{self.name}' AND pid <> pg_backend_pid()"
            )
            self._reset()

    def drop(self) -> None:
        self.engine.dispose()
        _quietly(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Databases:
    """Per test run (per xdist worker): a migrated SQLite file to copy, and a PostgreSQL scratch database; each
    built at first use by `migrate` (the runtime's own start-up: migrations and built-in flows)."""

    def __init__(self, folder: Path, migrate: Callable[[str], None]) -> None:
        self.folder = folder
        self.migrate = migrate
        self._sqlite: Path | None = None
        self._postgres: PostgresScratch | None = None

    def fresh_sqlite(self, folder: Path) -> str:
        if self._sqlite is None:
            template = self.folder / "template.db"
            self.migrate(f"sqlite:///{template}")
            self._sqlite = template
        path = folder / "loopline.db"
        shutil.copyfile(self._sqlite, path)
        return f"sqlite:///{path}"

    def fresh_postgres(self) -> str:
        if self._postgres is None:
            self._postgres = PostgresScratch(self.migrate)
        return self._postgres.fresh()

    def close(self) -> None:
        if self._postgres is not None:
            self._postgres.drop()
