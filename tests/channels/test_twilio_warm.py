"""Twilio's warm-up never stops a process: an answer that is not JSON (a proxy's error page), a refused connection
or an error status are logged by name and the adapter sends as before."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from bot.channels.twilio_sms import TwilioSms
from bot.settings import load_settings
from tests.conftest import TWILIO_ENV
from tests.support.loopback import QuietHandler, serving


class _ErrorPage(QuietHandler):
    def do_GET(self) -> None:
        self.answer(200, b"<html><body>502 Bad Gateway</body></html>", "text/html")


@pytest.fixture
def error_page() -> Iterator[str]:
    with serving(_ErrorPage) as (url,):
        yield url


@pytest.mark.parametrize("where", ["html", "refused"])
def test_a_failed_warm_up_is_logged_and_not_raised(
    error_page: str, where: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="loopline.twilio")
    base = error_page if where == "html" else "http://127.0.0.1:9"
    settings = load_settings({**TWILIO_ENV, "LOOPLINE_TWILIO_API_BASE": base})
    assert settings.twilio is not None
    asyncio.run(TwilioSms(settings.twilio, None).warm(4))
    assert "twilio warm-up:" in caplog.text
