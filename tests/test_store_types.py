"""Our column types against SQLAlchemy's own conversions: the text a timestamp is written as on SQLite is, for any
aware datetime, exactly what SQLAlchemy's composed processors write, and reads back to the same instant."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.models import UTCDateTime

OFFSETS = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
AWARE = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.one_of(st.just(UTC), OFFSETS)
)


def _composed(value: datetime) -> str:
    """SQLAlchemy's way: the decorator's step to UTC, then SQLite DATETIME's own text."""
    dialect = sqlite.dialect()
    step = UTCDateTime().process_bind_param(value, dialect)
    text = DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect)(step)  # type: ignore[misc]
    assert isinstance(text, str)
    return text


@given(st.lists(AWARE, min_size=1, max_size=6), st.randoms())
def test_the_sqlite_text_of_a_timestamp_is_sqlalchemys(values: list[datetime], rng: random.Random) -> None:
    """Each value, the same object written again (a turn's `now`) or another, gives SQLAlchemy's text."""
    fused = UTCDateTime().bind_processor(sqlite.dialect())
    assert fused is not None
    written = [rng.choice(values) for _ in range(12)]
    assert [fused(v) for v in written] == [_composed(v) for v in written]


def test_none_stays_none_and_a_naive_timestamp_is_refused() -> None:
    fused = UTCDateTime().bind_processor(sqlite.dialect())
    assert fused is not None
    assert fused(None) is None
    with pytest.raises(ValueError, match="naive"):
        fused(datetime(2026, 12, 4, 12, 0))


def test_postgresql_keeps_the_decorators_own_step() -> None:
    processor = UTCDateTime().bind_processor(postgresql.psycopg.dialect())
    assert processor is not None
    when = datetime(2026, 12, 4, 7, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert processor(when) == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@given(st.lists(AWARE, min_size=1, max_size=20))
def test_a_timestamp_written_to_sqlite_reads_back_as_the_same_instant(values: list[datetime]) -> None:
    table = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    engine = create_engine("sqlite://")
    table.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(table), [{"at": v} for v in values])
        read = connection.execute(select(table.c.at).order_by(table.c.id)).scalars().all()
    assert read == values
    assert all(v.tzinfo is UTC for v in read)
