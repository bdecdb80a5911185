"""Statements compiled once per database and run straight on the driver's connection: the few statements every
inbound message runs, without SQLAlchemy's per-execution work, its types still converting each value both ways
and its errors still the ones the rest of the program knows (transient or not, no value in the text)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Delete, Insert, Select, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.store.db import without_values

Convert = Callable[[Any], Any] | None
Statement = Select[*tuple[Any, ...]] | Insert | Update | Delete
_DRIVER = "loopline.driver"


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    binds: tuple[tuple[str, Convert], ...]
    results: tuple[Convert, ...]
    fixed: dict[str, Any]  # values written into the statement (a LIMIT's), given unless params say otherwise
    converts: bool  # whether any column of the result is converted
    returns_rows: bool  # a SELECT, or RETURNING


def _bind(name: str, bind: BindParameter[Any], dialect: Dialect) -> tuple[str, Convert]:
    return name, bind.type.dialect_impl(dialect).bind_processor(dialect)


def _driver(session: Session) -> tuple[Any, Dialect, Any]:
    """What runs the transaction's statements (found once per session: the same connection for the whole
    transaction), its dialect and SQLAlchemy's connection. On PostgreSQL one psycopg cursor serves them all (a new
    cursor copies the connection's adapters: ~17 µs of CPU a statement); sqlite3 makes its own cursors cheaply."""
    found: tuple[Any, Dialect, Any] | None = session.info.get(_DRIVER)
    if found is None:
        connection = session.connection()
        raw = connection.connection.dbapi_connection
        assert raw is not None
        runner = raw if connection.dialect.name == "sqlite" else raw.cursor()
        found = session.info[_DRIVER] = (runner, connection.dialect, connection)
    return found


class Prepared:
    """One statement (bound parameters named, every inserted column given; or one per dialect name, for what
    each writes its own way), compiled the first time it runs on a database; run(session, params) executes it
    in the session's transaction."""

    def __init__(self, statement: Statement | Mapping[str, Statement], columns: Sequence[str] = ()) -> None:
        self.statement = statement
        self.columns = list(columns)  # an INSERT's columns: each must be in every params given
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, dialect: Dialect) -> _Compiled:
        found = self._by_dialect.get(dialect.name)
        if found is not None:
            return found
        statement = self.statement if not isinstance(self.statement, Mapping) else self.statement[dialect.name]
        compiled = statement.compile(dialect=dialect, column_keys=self.columns or None)
        if getattr(compiled, "insert_prefetch", None):
            missing = ", ".join(c.key for c in compiled.insert_prefetch)
            raise ValueError(f"a prepared INSERT must be given every column; missing: {missing}")
        names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
        binds = tuple(_bind(name, compiled.binds[name], dialect) for name in names)
        returned: Sequence[Any] = (
            getattr(statement, "selected_columns", None) or getattr(statement, "_returning", None) or ()
        )
        results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned)
        fixed = {n: b.effective_value for n, b in compiled.binds.items() if not b.required and n not in self.columns}
        found = self._by_dialect[dialect.name] = _Compiled(
            compiled.string, compiled.positional, binds, results, fixed, any(results), bool(returned)
        )
        return found

    def run(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute; the rows it returns (a SELECT's, an INSERT's RETURNING), each value converted as SQLAlchemy
        would."""
        runner, dialect, connection = _driver(session)
        compiled = self._compiled(dialect)
        try:
            cursor = runner.execute(compiled.sql, _arguments(compiled, params))  # sqlite3's or psycopg's cursor
            rows = cursor.fetchall() if compiled.returns_rows else []
        except dialect.loaded_dbapi.Error as exc:
            raise _wrapped(exc, compiled.sql, dialect, connection) from None
        if not compiled.converts:
            return rows  # the driver's rows are tuples already
        return [tuple(v if c is None else c(v) for v, c in zip(row, compiled.results, strict=True)) for row in rows]

    def stream(self, session: Session, params: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
        """The rows one at a time as the driver gives them, for a read too large to hold at once (its columns must
        need no conversion; read it to the end before the next statement)."""
        runner, dialect, connection = _driver(session)
        compiled = self._compiled(dialect)
        if compiled.converts:
            raise ValueError("a streamed statement's columns must need no conversion")
        try:
            return iter(runner.execute(compiled.sql, _arguments(compiled, params)))
        except dialect.loaded_dbapi.Error as exc:
            raise _wrapped(exc, compiled.sql, dialect, connection) from None

    def first(self, session: Session, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row, or None."""
        rows = self.run(session, params)
        return rows[0] if rows else None


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> Any:
    """The driver's arguments: each value converted as SQLAlchemy would, in order or by name as the driver takes."""
    given = {**compiled.fixed, **params} if compiled.fixed else params
    values = [given[name] if do is None else do(given[name]) for name, do in compiled.binds]
    return values if compiled.positional else {name: v for (name, _), v in zip(compiled.binds, values)}  # noqa: B905


def _wrapped(exc: Any, sql: str, dialect: Dialect, connection: Any) -> BaseException:
    """The driver's error as SQLAlchemy raises it (OperationalError, IntegrityError …), parameters hidden, values
    gone from the text, the connection given up when it is lost (so the failure counts as transient)."""
    lost = dialect.is_disconnect(exc, connection.connection.dbapi_connection, None)
    if lost:
        connection.invalidate(exc)
    error: Any = DBAPIError.instance(
        sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True, connection_invalidated=lost, dialect=dialect
    )
    without_values(exc, error if isinstance(error, DBAPIError) else None)
    return error if isinstance(error, BaseException) else exc
