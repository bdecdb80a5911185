"""Shared fixtures: real databases (SQLite always, PostgreSQL when LOOPLINE_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from bot.messages import Channel
from bot.runtime import Runtime
from bot.settings import Settings, load_settings
from bot.store.db import normalise_url
from tests.support.chat import Chat

POSTGRES_URL = os.environ.get("LOOPLINE_TEST_POSTGRES_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])

TWILIO_ENV = {
    "LOOPLINE_TWILIO_ACCOUNT_SID": "AC" + "0123456789abcdef" * 2,
    "LOOPLINE_TWILIO_AUTH_TOKEN": "test-auth-token",
    "LOOPLINE_TWILIO_FROM": "+15005550006",
}
TELEGRAM_ENV = {
    "LOOPLINE_TELEGRAM_TOKEN": "123456:TEST-token-abcdefghijklmnopqrstuvwxyz",
    "LOOPLINE_TELEGRAM_SECRET": "test-secret",
    "LOOPLINE_TELEGRAM_MODE": "polling",
    "LOOPLINE_TELEGRAM_API_BASE": "http://127.0.0.1:9",
}


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own that is dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/loopline.db"
        return
    with postgres_schema() as url:
        yield url


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A PostgreSQL schema of its own, dropped afterwards: the URL that makes it the search path."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def make_settings(database_url: str, **extra: str) -> Settings:
    """Settings as the environment would give them, with the SMS and Telegram channels live."""
    env = {
        "LOOPLINE_DATABASE_URL": database_url,
        "LOOPLINE_PROGRAM_NAME": "Eastside Health Voices",
        "LOOPLINE_HELP_CONTACT": "555-0100",
        **TWILIO_ENV,
        **TELEGRAM_ENV,
        **extra,
    }
    return load_settings(env)


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    """A migrated store with the built-in flows, the pipeline and the delivery worker of one process."""
    rt = Runtime(make_settings(database_url))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


@pytest.fixture
def chat(runtime: Runtime) -> Callable[..., Chat]:
    """Make a resident on a channel: chat(Channel.SMS, "+14155550100", language_hint=None)."""

    def make(channel: Channel = Channel.SMS, address: str = "+14155550100", language_hint: str | None = None) -> Chat:
        return Chat(runtime, channel, address, language_hint)

    return make
