"""A provider out of reach at start does not take the others down: `serve` and `worker` start, say so in one log
line per attempt (no traceback), show the channel as down on /healthz, and keep serving the simulator and SMS."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e import wait_until
from tests.e2e.test_cli import _env
from tests.support.peers import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, free_port, loopline_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _down_env(tmp_path: Path, mode: str) -> dict[str, str]:
    """Telegram pointed at a closed port; SMS on a closed port too (nothing goes to real Twilio from a test)."""
    return _env(
        tmp_path,
        LOOPLINE_TELEGRAM_TOKEN="123456:TEST-token-abcdefghijklmnopqrstuvwxyz",
        LOOPLINE_TELEGRAM_SECRET="test-secret",
        LOOPLINE_TELEGRAM_MODE=mode,
        LOOPLINE_TELEGRAM_API_BASE=f"http://127.0.0.1:{free_port()}",
        LOOPLINE_TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
        LOOPLINE_TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
        LOOPLINE_TWILIO_FROM="+15005550006",
        LOOPLINE_TWILIO_API_BASE=f"http://127.0.0.1:{free_port()}",
    )


@pytest.mark.parametrize("mode", ["polling", "webhook"])
def test_serve_starts_and_serves_while_telegram_is_out_of_reach(tmp_path: Path, mode: str) -> None:
    env = _down_env(tmp_path, mode) | {"LOOPLINE_PUBLIC_URL": "http://127.0.0.1:9"}
    if mode == "polling":
        env.pop("LOOPLINE_PUBLIC_URL")
    with loopline_server(env, cwd=tmp_path, log_dir=tmp_path) as server, httpx.Client(trust_env=False) as client:
        health = client.get(f"{server.base_url}/healthz").json()
        assert health["status"] == "ok" and "telegram" in health["down"], health
        assert "sms" in health["channels"], health
        answer = client.post(f"{server.base_url}/simulator/api/messages", json={"handle": "ana", "text": "hi"})
        assert answer.status_code == 200 and answer.json()["replies"], answer.text
        wait_until(lambda: server.log_text().count("telegram: the Bot API cannot be reached") >= 2, 15, 0.2)
        log = server.log_text()
        assert server.process.poll() is None, log
    assert "Traceback" not in log, log
    attempts = [line for line in log.splitlines() if "telegram" in line.lower()]
    assert all("cannot be reached (" in line for line in attempts if "Bot API" in line), attempts


def test_worker_keeps_running_while_telegram_is_out_of_reach(tmp_path: Path) -> None:
    env = _down_env(tmp_path, "polling")
    assert subprocess.run([sys.executable, "-m", "bot", "migrate"], env=env, cwd=tmp_path, check=False).returncode == 0
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        wait_until(lambda: log_path.read_text().count("telegram: the Bot API cannot be reached") >= 2, 20, 0.2)
        time.sleep(0.5)
        assert worker.poll() is None, log_path.read_text()
        worker.terminate()
        assert worker.wait(timeout=15) == 0, log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    text = log_path.read_text()
    assert "Traceback" not in text, text
