"""`loopline serve --access-log` as a process: each request is logged with its path, never a query value."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e import base_env
from tests.support.peers import loopline_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

DIGITS = "4155550123"


def test_the_access_log_of_serve_names_paths_and_redacts_queries(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--access-log"]
    with loopline_server(base_env(tmp_path / "loopline.db"), log_dir=tmp_path, argv=argv) as server:
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            signed_out = client.get("/dashboard/inbox", params={"q": f"+1{DIGITS}", "page": "2"})
            assert signed_out.status_code in (302, 303)
            followed = client.get(signed_out.headers["location"])  # /login?next=… carries the search along
            assert followed.status_code == 200
            refused = client.get("/api/v1/residents", params={"area": f"+1{DIGITS}", "topic": "my mother's clinic"})
            assert refused.status_code == 401
        deadline = time.monotonic() + 5
        while "/api/v1/residents" not in server.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.log_text()
    assert '"GET /dashboard/inbox?q=[redacted]&page=[redacted] HTTP/1.1" 303' in log, log
    assert '"GET /login?next=[redacted] HTTP/1.1" 200' in log, log
    assert '"GET /api/v1/residents?area=[redacted]&topic=[redacted] HTTP/1.1" 401' in log, log
    assert DIGITS not in log and "clinic" not in log, log
