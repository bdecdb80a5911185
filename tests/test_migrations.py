"""Models and Alembic migrations agree, on SQLite and on PostgreSQL; migrations run down and up again."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot.store.db import Database
from bot.store.migrate import alembic_config, current_revision, head_revision, is_current, upgrade
from bot.store.models import Base


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        assert not is_current(db.engine)
        upgrade(db.engine)
        assert is_current(db.engine)
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == [], differences
    finally:
        db.dispose()


def test_the_newest_revision_and_the_recorded_one_are_read_as_alembic_reads_them(empty_database_url: str) -> None:
    scripts = ScriptDirectory.from_config(alembic_config(empty_database_url))
    assert head_revision() == scripts.get_current_head()
    db = Database(empty_database_url)
    try:
        for revision in ("0001", "0005", "head"):
            upgrade(db.engine, revision)
            with db.engine.connect() as connection:
                recorded = MigrationContext.configure(connection).get_current_revision()
            assert current_revision(db.engine) == recorded == scripts.get_revision(revision).revision
        assert is_current(db.engine)
    finally:
        db.dispose()


def test_migrations_go_down_and_up_again(empty_database_url: str) -> None:
    db = Database(empty_database_url)
    try:
        upgrade(db.engine)
        config = alembic_config(empty_database_url)
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        assert current_revision(db.engine) is None and not is_current(db.engine)
        upgrade(db.engine)
        assert "residents" in inspect(db.engine).get_table_names()
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    db = Database(f"sqlite:///{tmp_path}/wal.db")
    try:
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()
