"""The embedded database's crash test: the one delivery worker of a SQLite deployment SIGKILLed in the middle of an
800-resident broadcast, with sends in flight; a new worker reclaims what it held once the lease runs out, and every
resident still gets exactly one message, in their language (the same checks as the PostgreSQL test beside it, which
kills one of two workers).

As there, the simulator channel answers at once without a provider, so this is exactly-once at the database; at a
provider, a send accepted just before the kill is sent again (at least once, as documented).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from tests.e2e import wait_until
from tests.e2e.test_worker_crash import (
    DRAIN_TIMEOUT,
    RESIDENTS,
    Workers,
    _by_status,
    _migrate,
    _rows,
    _seed,
    assert_each_sent_once,
    queue_broadcast,
)


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_the_worker_of_a_sqlite_deployment_killed_mid_broadcast_loses_and_doubles_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'loopline.db'}"
    now = datetime.now(UTC)
    _migrate(url, tmp_path)
    engine = create_engine(url)
    workers = Workers(url, tmp_path)
    try:
        _seed(engine, RESIDENTS, now)
        purpose, queued = queue_broadcast(url, now)
        assert queued == RESIDENTS
        victim = workers.start()
        wait_until(lambda: _by_status(engine, purpose).get("sent", 0) >= RESIDENTS // 2, 120, 0.02)
        os.kill(victim.pid, signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        held = _by_status(engine, purpose).get("sending", 0)
        killed_at = time.monotonic()
        workers.start()

        def drained() -> bool:
            counts = _by_status(engine, purpose)
            return not counts.get("pending") and not counts.get("sending")

        try:
            wait_until(drained, DRAIN_TIMEOUT, 0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {_by_status(engine, purpose)}\n{workers.logs()}") from None
        drained_after = time.monotonic() - killed_at
    finally:
        workers.stop_all()
    try:
        assert_each_sent_once(engine, purpose, workers)
        attempts = dict(
            _rows(engine, "SELECT attempts, count(*) FROM outbox WHERE purpose = :p GROUP BY attempts", p=purpose)
        )
        assert set(attempts) <= {1, 2}, attempts
        assert attempts.get(2, 0) >= held  # what the killed worker held was reclaimed: a second attempt each
    finally:
        engine.dispose()
    print(f"\nthe killed worker held {held} claimed rows; attempts {attempts}; drained {drained_after:.1f}s after")
