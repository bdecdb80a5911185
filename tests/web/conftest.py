"""Fixtures for the staff web app: the real ASGI app on a real database, driven in process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.web.app import create_app
from tests.conftest import make_settings


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    """A migrated store with SMS live and Telegram off (no Telegram peer is needed to sign staff in)."""
    rt = Runtime(make_settings(database_url, LOOPLINE_TELEGRAM_TOKEN=""))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """An in-process client of the whole app (no delivery loop; tests drain the outbox themselves)."""
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as test_client:
        yield test_client
