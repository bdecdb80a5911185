"""Alembic driven from code (no alembic.ini at the top level): upgrade, and whether a database is at the newest
migration (answered without loading Alembic: 0.2 s that every command would otherwise pay)."""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at migrations/ and the given database."""
    from alembic.config import Config  # noqa: PLC0415 (see the module's docstring)

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to the given revision, on the engine's own connection (at once when it is at head)."""
    if revision == "head" and is_current(engine):
        return
    from alembic import command  # noqa: PLC0415 (see the module's docstring)

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _assigned(script: Path, name: str) -> object:
    """The literal value a migration script assigns to a module-level name (None when it assigns none)."""
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(target, ast.Name) and target.id == name for target in targets):
            return ast.literal_eval(value)
    return None


@functools.cache
def head_revision() -> str:
    """The newest migration's revision: the one no other script names as its `down_revision` (the history is one
    line; tests/test_migrations.py checks this agrees with Alembic's own reading)."""
    parents: dict[str, object] = {}
    for script in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        revision = _assigned(script, "revision")
        if isinstance(revision, str):
            parents[revision] = _assigned(script, "down_revision")
    heads = set(parents) - set(parents.values())
    if len(heads) != 1:
        raise RuntimeError(f"migrations/versions has {len(heads)} heads, not one: {sorted(heads)}")
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    """The revision Alembic recorded in the database; None for a database it never touched."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()  # noqa: S608


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    return current_revision(engine) == head_revision()
