"""A delivery worker SIGKILLed in the middle of an 800-resident broadcast on PostgreSQL: every
resident still gets exactly one message, in their language.

What this proves, and what it does not: the residents are on the simulator channel, whose adapter
answers SENT at once without calling any provider. So the test exercises only the database side of
delivery: claiming with ``FOR UPDATE SKIP LOCKED``, the lease (``claimed_until``, here
``LOOPLINE_CLAIM_SECONDS=5``), and the reclaim of a dead worker's rows once its lease has run out.
It shows that this logic is exactly-once *at the database*: one ``messages`` row per outbox row,
per resident and per address, no orphan message, no row lost. It does not (cannot) show
exactly-once *at the provider*: a real Twilio/Telegram call that the provider accepted just before
the worker was killed, before ``finish()`` committed, is sent again when another worker reclaims
the row. Delivery to a provider is at-least-once, as documented; the idempotency key travels as
``Outbound.reference`` for providers that can use it.

How the killed worker's rows are known: rows carry no worker id, so just before the kill the victim
is frozen with SIGSTOP. Its claimed rows then stay "sending" with the same ``claimed_until`` while
the other worker keeps going; once that worker has sent more than a batch since a snapshot, every
row it held in the snapshot is finished (it finishes a batch before claiming the next), so the rows
still "sending" with an unchanged lease are the victim's. If the victim was frozen holding nothing
(between batches, inside its claim transaction) it is resumed and frozen again a moment later. Then
it is SIGKILLed (a stopped process dies at once), a new worker is started, and the test waits for
the broadcast to drain.

Runs only with LOOPLINE_TEST_POSTGRES_URL (it is not collected without it): SQLite has one writer
and no SKIP LOCKED, so several worker processes are a PostgreSQL deployment's concern; the SQLite
deployment's single worker killed mid-broadcast is test_worker_crash_sqlite.py, with the same checks.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, create_engine, insert, text

from bot.engagement.broadcasts.audiences import parse_audience
from bot.engagement.broadcasts.sending import BroadcastFile, enqueue
from bot.store.db import Database, normalise_url
from bot.store.models import Address, Resident
from tests.e2e import clean_os_env, wait_until
from tests.support.databases import POSTGRES_URL, postgres_schema

RESIDENTS = 800  # 16 of a worker's batches: enough to kill one mid-broadcast with rows in hand
LOCALES = ("en", "es", "ar")
TEXTS = {
    "en": "The community clinic opens on Saturday from 9 to 1. Bring a friend.",
    "es": "La clínica comunitaria abre el sábado de 9 a 1. Traiga a un amigo.",
    "ar": "تفتح العيادة المجتمعية يوم السبت من 9 إلى 1. أحضر صديقًا.",
}
INSERT_BATCH = 2_000
CLAIM_SECONDS = 5
WORKER_BATCH = 50  # DeliveryWorker's default batch, as `loopline worker` uses it
DRAIN_TIMEOUT = 180.0

RESIDENT_TABLE = cast(Table, Resident.__table__)
ADDRESS_TABLE = cast(Table, Address.__table__)


def _worker_env(url: str) -> dict[str, str]:
    return clean_os_env(
        LOOPLINE_DATABASE_URL=url,
        LOOPLINE_SIMULATOR="on",
        LOOPLINE_CLAIM_SECONDS=str(CLAIM_SECONDS),
        # start == end is never quiet (rules.quiet_until: start <= t < end with start == end is empty).
        LOOPLINE_QUIET_HOURS="00:00-00:00",
        LOOPLINE_FREQUENCY_CAP="0/7d",  # the cap off: nothing waits a week
    )


class Workers:
    """`python -m bot worker` processes, each with its output in a log file; all stopped on exit."""

    def __init__(self, url: str, log_dir: Path) -> None:
        self.env = _worker_env(url)
        self.log_dir = log_dir
        self.processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log_path = self.log_dir / f"worker-{len(self.processes) + 1}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "worker", "--log-level", "warning"],
                cwd=self.log_dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append((process, log_path))
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-3000:]}" for _, path in self.processes
        )

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGCONT)  # in case it was left frozen
                    process.terminate()
        for process, _ in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _migrate(url: str, cwd: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate"],
        cwd=cwd,
        env=clean_os_env(LOOPLINE_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _seed(engine: Engine, count: int, now: datetime) -> None:
    """`count` residents who joined (locale en, es, ar in turn), each with one simulator address."""
    with engine.begin() as connection:
        for start in range(0, count, INSERT_BATCH):
            numbers = range(start, min(start + INSERT_BATCH, count))
            residents = [
                {
                    "locale": LOCALES[n % len(LOCALES)],
                    "timezone": None,
                    "consent": "granted",
                    "area": None,
                    "fields": {},
                    "display_name": f"sim-{n}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in numbers
            ]
            ids = connection.execute(
                insert(RESIDENT_TABLE).returning(RESIDENT_TABLE.c.id, sort_by_parameter_order=True), residents
            ).scalars()
            addresses = [
                {
                    "resident_id": resident_id,
                    "channel": "simulator",
                    "value": f"sim-{n}",
                    "reachable": True,
                    "created_at": now,
                }
                for n, resident_id in zip(numbers, ids, strict=True)
            ]
            connection.execute(insert(ADDRESS_TABLE), addresses)


def _rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text(sql), params))


def _by_status(engine: Engine, purpose: str) -> dict[str, int]:
    rows = _rows(engine, "SELECT status, count(*) FROM outbox WHERE purpose = :p GROUP BY status", p=purpose)
    return {status: int(n) for status, n in rows}


def _sending(engine: Engine, purpose: str) -> dict[int, datetime]:
    rows = _rows(engine, "SELECT id, claimed_until FROM outbox WHERE purpose = :p AND status = 'sending'", p=purpose)
    return {int(row_id): until for row_id, until in rows}


def _freeze_holding_claims(victim: subprocess.Popen[bytes], engine: Engine, purpose: str) -> set[int]:
    """SIGSTOP the victim at a moment it holds claimed rows; the ids of those rows."""
    for _ in range(30):
        os.kill(victim.pid, signal.SIGSTOP)
        before = _sending(engine, purpose)
        sent = _by_status(engine, purpose).get("sent", 0)  # counted after the snapshot: conservative
        # The other worker finishes the batch it had in the snapshot before it claims another one.
        wait_until(lambda sent=sent: _by_status(engine, purpose).get("sent", 0) > sent + WORKER_BATCH, 20, 0.02)
        after = _sending(engine, purpose)
        held = {row_id for row_id, until in before.items() if after.get(row_id) == until}
        if held:
            return held
        os.kill(victim.pid, signal.SIGCONT)
        time.sleep(random.uniform(0.05, 0.3))
    raise AssertionError("the worker to kill was never caught holding claimed rows")


def queue_broadcast(url: str, now: datetime) -> tuple[str, int]:
    """The clinic notice queued for everyone who joined, in their language: its outbox purpose and how many rows."""
    db = Database(url)
    try:
        with db.transaction() as session:
            notice = BroadcastFile("Clinic open day", dict(TEXTS), {}, False)
            broadcast, queued = enqueue(session, notice, parse_audience(""), "en", now, now)
            return f"broadcast:{broadcast.id}", queued
    finally:
        db.dispose()


def assert_each_sent_once(engine: Engine, purpose: str, workers: Workers) -> None:
    """Every row of the broadcast sent, each with a message of its own: one per resident and per address, in their
    language, none beside the outbox's (exactly once at the database)."""
    # The outbox: every row sent, and each points at a message of its own.
    assert _by_status(engine, purpose) == {"sent": RESIDENTS}, workers.logs()
    [(rows, messages, residents)] = _rows(
        engine,
        "SELECT count(*), count(DISTINCT message_id), count(DISTINCT resident_id) FROM outbox "
        "WHERE purpose = :p AND message_id IS NOT NULL",
        p=purpose,
    )
    assert (rows, messages, residents) == (RESIDENTS, RESIDENTS, RESIDENTS)

    # The messages: one outbound row per resident and per address, none beside the outbox's.
    [(outbound,)] = _rows(engine, "SELECT count(*) FROM messages WHERE direction = 'out'")
    assert outbound == RESIDENTS
    per_resident = _rows(
        engine,
        "SELECT r.id, count(m.id) FROM residents r LEFT JOIN messages m "
        "ON m.resident_id = r.id AND m.direction = 'out' GROUP BY r.id HAVING count(m.id) <> 1",
    )
    assert per_resident == []
    per_address = _rows(
        engine,
        "SELECT a.value, count(m.id) FROM addresses a LEFT JOIN messages m ON m.direction = 'out' "
        "AND m.channel = a.channel AND m.address = a.value GROUP BY a.value HAVING count(m.id) <> 1",
    )
    assert per_address == []
    mismatched = _rows(
        engine,
        "SELECT o.id FROM outbox o JOIN messages m ON m.id = o.message_id "
        "WHERE o.purpose = :p AND (m.resident_id <> o.resident_id OR m.address <> o.address "
        "OR m.channel <> o.channel OR m.text <> o.text)",
        p=purpose,
    )
    assert mismatched == []

    # Each text in the resident's language.
    languages = _rows(
        engine,
        "SELECT r.locale, m.text, count(*) FROM outbox o JOIN messages m ON m.id = o.message_id "
        "JOIN residents r ON r.id = o.resident_id WHERE o.purpose = :p GROUP BY r.locale, m.text",
        p=purpose,
    )
    assert {(locale, body) for locale, body, _ in languages} == set(TEXTS.items())
    assert sum(n for *_, n in languages) == RESIDENTS


if POSTGRES_URL:  # not collected at all without PostgreSQL (like the "postgres" backend in conftest)

    @pytest.mark.e2e
    @pytest.mark.timeout(300)
    def test_a_worker_killed_mid_broadcast_loses_and_doubles_nothing(tmp_path: Path) -> None:
        started = time.monotonic()
        timings: dict[str, float] = {}
        now = datetime.now(UTC)
        with postgres_schema() as url:
            _migrate(url, tmp_path)
            timings["migrate"] = time.monotonic() - started
            engine = create_engine(normalise_url(url))
            workers = Workers(url, tmp_path)
            try:
                _seed(engine, RESIDENTS, now)
                timings["seed"] = time.monotonic() - started
                purpose, queued = queue_broadcast(url, now)
                assert queued == RESIDENTS
                timings["enqueue"] = time.monotonic() - started

                victim = workers.start()
                workers.start()
                wait_until(lambda: _by_status(engine, purpose).get("sent", 0) >= RESIDENTS // 2, 120, 0.05)
                timings["half sent"] = time.monotonic() - started

                held = _freeze_holding_claims(victim, engine, purpose)
                os.kill(victim.pid, signal.SIGKILL)
                assert victim.wait(timeout=10) == -signal.SIGKILL
                killed_at = _by_status(engine, purpose)
                timings["killed"] = time.monotonic() - started
                workers.start()

                def drained() -> bool:
                    counts = _by_status(engine, purpose)
                    return not counts.get("pending") and not counts.get("sending")

                try:
                    wait_until(drained, DRAIN_TIMEOUT, 0.2)
                except AssertionError as exc:
                    raise AssertionError(f"{exc}: {_by_status(engine, purpose)}\n{workers.logs()}") from None
                timings["drained"] = time.monotonic() - started
            finally:
                workers.stop_all()

            try:
                assert_each_sent_once(engine, purpose, workers)

                # The killed worker's rows were reclaimed (a second attempt) and finished by another worker.
                attempts = dict(
                    _rows(
                        engine, "SELECT attempts, count(*) FROM outbox WHERE purpose = :p GROUP BY attempts", p=purpose
                    )
                )
                reclaimed = {
                    int(row_id)
                    for (row_id,) in _rows(
                        engine, "SELECT id FROM outbox WHERE purpose = :p AND attempts > 1", p=purpose
                    )
                }
                assert held <= reclaimed
                assert set(attempts) <= {1, 2}
            finally:
                engine.dispose()

        total = time.monotonic() - started
        print(
            f"\n{RESIDENTS} residents; the killed worker held {len(held)} claimed rows; "
            f"rows by attempts {dict(sorted(attempts.items()))}; at the kill {killed_at}; "
            + ", ".join(f"{step} at {seconds:.1f}s" for step, seconds in timings.items())
            + f"; total {total:.1f}s"
        )


if POSTGRES_URL:

    @pytest.mark.e2e
    @pytest.mark.timeout(240)
    def test_a_worker_stopped_with_sigterm_hands_its_rows_back_at_once(tmp_path: Path) -> None:
        """A deploy stops workers with SIGTERM: the message in hand is finished, the rest of the batch is pending
        again at once (not after the claim runs out), and the next worker sends each row exactly once."""
        now = datetime.now(UTC)
        residents = 400
        with postgres_schema() as url:
            _migrate(url, tmp_path)
            engine = create_engine(normalise_url(url))
            workers = Workers(url, tmp_path)
            try:
                _seed(engine, residents, now)
                purpose, _queued = queue_broadcast(url, now)
                first = workers.start()
                wait_until(lambda: _by_status(engine, purpose).get("sent", 0) >= 100, 60, 0.02)
                first.send_signal(signal.SIGTERM)
                assert first.wait(timeout=15) == 0, workers.logs()
                after = _by_status(engine, purpose)
                assert "sending" not in after, after  # nothing left waiting for a claim to run out
                assert after.get("sent", 0) + after.get("pending", 0) == residents, after
                [(stray,)] = _rows(engine, "SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts <> 0")
                assert stray == 0
                workers.start()
                wait_until(lambda: _by_status(engine, purpose) == {"sent": residents}, 120, 0.2)
                [(messages,)] = _rows(engine, "SELECT count(DISTINCT address) FROM messages WHERE direction = 'out'")
                [(total,)] = _rows(engine, "SELECT count(*) FROM messages WHERE direction = 'out'")
                assert messages == total == residents
            finally:
                workers.stop_all()
                engine.dispose()
