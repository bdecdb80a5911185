"""Twilio's warm-up never stops a process: an answer that is not JSON (a proxy's error page), a refused connection
or an error status are logged by name and the adapter sends as before."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.channels.twilio_sms import TwilioSms
from bot.settings import load_settings
from tests.conftest import TWILIO_ENV


class _ErrorPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>502 Bad Gateway</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def error_page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ErrorPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


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
