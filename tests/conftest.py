"""Shared fixtures: real databases (SQLite always, PostgreSQL when LOOPLINE_TEST_POSTGRES_URL is set), each test's
own copy of a database migrated once per run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from bot.messages import Channel
from bot.runtime import Runtime
from bot.settings import Settings, load_settings
from bot.staff import accounts
from tests.support.chat import Chat
from tests.support.databases import BACKENDS, Databases, postgres_schema
from tests.support.examples import examples  # registers the "fast" Hypothesis profile before it is chosen

__all__ = ["examples"]
ROOT = Path(__file__).resolve().parent
END_TO_END_FOLDERS = (ROOT / "e2e", ROOT / "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e and tests/browser drives real processes: marked e2e (`make test-fast` skips it),
    and run first. The slow tests are then shared out between the xdist workers at the start, and the many short
    ones fill in at the end, instead of one worker finishing a minute-long test while the others wait."""
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in END_TO_END_FOLDERS):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


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


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """argon2id with the cheapest parameters in the suite's own process (a sign-in costs 0.2 s at production cost);
    servers the suite starts as subprocesses hash at production cost, and a test checks what they store."""
    shipped = accounts.HASHER
    accounts.HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    accounts.HASHER = shipped


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """This run's (this xdist worker's) migrated databases."""

    def migrate(url: str) -> None:
        runtime = Runtime(make_settings(url))
        try:
            runtime.prepare(migrate=True)
        finally:
            runtime.close()

    made = Databases(tmp_path_factory.mktemp("databases"), migrate)
    yield made
    made.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that uses a database runs on SQLite, and on PostgreSQL when LOOPLINE_TEST_POSTGRES_URL is set."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database of the test's own at the latest schema, holding the built-in flows and nothing else."""
    if backend == "sqlite":
        return databases.fresh_sqlite(tmp_path_factory.mktemp("db"))
    return databases.fresh_postgres()


@pytest.fixture
def empty_database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own that is dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/loopline.db"
        return
    with postgres_schema() as url:
        yield url


def make_settings(database_url: str, **extra: str) -> Settings:
    """Settings as the environment would give them, with the SMS and Telegram channels live."""
    env = {
        "LOOPLINE_DATABASE_URL": database_url,
        "LOOPLINE_PROGRAM_NAME": "Eastside Health Voices",
        "LOOPLINE_HELP_CONTACT": "555-0100",
        # The program's description in two languages; the others hear the catalog's "news, polls and events".
        "LOOPLINE_PROGRAM_ABOUT": "community health news, polls and events",
        "LOOPLINE_PROGRAM_ABOUT_ES": "noticias de salud, encuestas y eventos",
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
