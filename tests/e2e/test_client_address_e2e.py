"""`loopline serve` as a process: X-Forwarded-For names the client only when LOOPLINE_TRUSTED_PROXIES trusts the
connection's peer (uvicorn's own proxy-header handling, which trusts 127.0.0.1 by default, is off)."""

from __future__ import annotations

import re
import sqlite3
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e import base_env
from tests.support.peers import loopline_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

CLAIMED = "203.0.113.9"


def _failed_sign_in(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        refused = client.post(
            "/login",
            data={"email": "nobody@health.example", "password": "not the password", "csrf_token": token.group(1)},
            headers={"X-Forwarded-For": CLAIMED},
        )
        assert refused.status_code == 401, refused.text


@pytest.mark.parametrize(("trusted", "client"), [("", "127.0.0.1"), ("127.0.0.1", CLAIMED)])
def test_serve_believes_forwarded_for_only_from_a_trusted_proxy(tmp_path: Path, trusted: str, client: str) -> None:
    database = tmp_path / "loopline.db"
    env = base_env(database, LOOPLINE_TRUSTED_PROXIES=trusted)
    argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--access-log"]
    with loopline_server(env, log_dir=tmp_path, argv=argv) as server:
        _failed_sign_in(server.base_url)
        deadline = time.monotonic() + 5
        while '"POST /login' not in server.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        access = [line for line in server.log_text().splitlines() if '"POST /login' in line]
    with sqlite3.connect(database) as db:
        actors = [row[0] for row in db.execute("SELECT actor FROM audit_events WHERE action = 'login.failed'")]
    assert actors == [f"anonymous:{client}"]
    assert len(access) == 1 and f"{client}:" in access[0], access
