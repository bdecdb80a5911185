"""Fixtures for residents' files: Twilio's media hosting on loopback, and a process whose media folder is the test's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.runtime import Runtime
from tests.conftest import TWILIO_ENV, make_settings
from tests.support.media import TwilioMediaHost, twilio_media_host

LIMIT_MB = "0.05"  # 52,428 bytes: small files pass, a bigger one is refused


@pytest.fixture
def host() -> Iterator[TwilioMediaHost]:
    """Twilio's media URLs and storage, on loopback."""
    with twilio_media_host(
        TWILIO_ENV["LOOPLINE_TWILIO_ACCOUNT_SID"], TWILIO_ENV["LOOPLINE_TWILIO_AUTH_TOKEN"]
    ) as found:
        yield found


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    """Where this test's process keeps files."""
    return tmp_path / "media"


@pytest.fixture
def runtime(database_url: str, host: TwilioMediaHost, media_dir: Path) -> Iterator[Runtime]:
    """A migrated store; SMS live with its media on loopback; Telegram off; files kept in the test's folder."""
    settings = make_settings(
        database_url,
        LOOPLINE_TWILIO_API_BASE=host.api,
        LOOPLINE_TELEGRAM_TOKEN="",
        LOOPLINE_MEDIA_DIR=str(media_dir),
        LOOPLINE_MEDIA_MAX_MB=LIMIT_MB,
    )
    rt = Runtime(settings)
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def fetch(runtime: Runtime) -> dict[str, int]:
    """One run of the media worker, as the scheduler runs it every 2 s."""
    return asyncio.run(runtime.media.run_once())
