"""STOP under load, end to end on PostgreSQL: a broadcast to 300 residents through a provider that answers 500 to
the first 40 sends and 429 to one in seventy of the rest (each 429 pauses every sender for a second), sent by two
`loopline worker` processes, while 30 residents text STOP to `loopline serve`. Every resident who did not stop gets
exactly one message; none gets one after their STOP was confirmed (the provider's arrival times and the webhook's
answer are read on this process's clock).
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import Table, create_engine, insert

from bot.engagement.broadcasts.audiences import parse_audience
from bot.engagement.broadcasts.sending import BroadcastFile, enqueue
from bot.store.db import Database, normalise_url
from bot.store.models import Address, Resident
from tests.e2e import clean_os_env, wait_until
from tests.e2e.test_worker_crash import _by_status, _migrate, _rows
from tests.support.databases import POSTGRES_URL, postgres_schema
from tests.support.flaky_twilio import FlakyTwilio, flaky_twilio
from tests.support.peers import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, loopline_server, sign_twilio

RESIDENTS = 300
STOPPERS = 30
OUR_NUMBER = "+15005550006"
TEXTS = {"en": "The clinic is open late on Thursday.", "es": "La clínica abre hasta tarde el jueves."}


def _number(n: int) -> str:
    return f"+1415600{n:04d}"


def _seed(url: str, now: datetime) -> str:
    engine = create_engine(normalise_url(url))
    residents, addresses = cast(Table, Resident.__table__), cast(Table, Address.__table__)
    try:
        with engine.begin() as connection:
            rows = [
                {
                    "locale": ("en", "es")[n % 2],
                    "consent": "granted",
                    "fields": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(RESIDENTS)
            ]
            ids = connection.execute(insert(residents).returning(residents.c.id, sort_by_parameter_order=True), rows)
            connection.execute(
                insert(addresses),
                [
                    {"resident_id": rid, "channel": "sms", "value": _number(n), "reachable": True, "created_at": now}
                    for n, rid in enumerate(ids.scalars())
                ],
            )
    finally:
        engine.dispose()
    db = Database(url)
    try:
        with db.transaction() as session:
            broadcast, queued = enqueue(
                session, BroadcastFile("Late clinic", dict(TEXTS), {}, False), parse_audience(""), "en", now, now
            )
            assert queued == RESIDENTS
            return f"broadcast:{broadcast.id}"
    finally:
        db.dispose()


def _env(url: str, provider: FlakyTwilio) -> dict[str, str]:
    return clean_os_env(
        LOOPLINE_DATABASE_URL=url,
        LOOPLINE_TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
        LOOPLINE_TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
        LOOPLINE_TWILIO_FROM=OUR_NUMBER,
        LOOPLINE_TWILIO_API_BASE=provider.base_url,
        LOOPLINE_TWILIO_SEGMENTS_PER_SECOND="100",  # a short code
        LOOPLINE_QUIET_HOURS="00:00-00:00",  # never quiet: only consent decides
        LOOPLINE_FREQUENCY_CAP="0/7d",
        LOOPLINE_SIMULATOR="off",
    )


def _stop(base_url: str, number: str, confirmed: dict[str, float], problems: list[str]) -> None:
    url = f"{base_url}/webhooks/twilio/sms"
    form = {"MessageSid": "SM" + f"{int(number[1:]):032x}"[-32:], "AccountSid": TEST_ACCOUNT_SID}
    form |= {"From": number, "To": OUR_NUMBER, "Body": "STOP"}
    with httpx.Client(timeout=30, trust_env=False) as client:
        answer = client.post(url, data=form, headers={"X-Twilio-Signature": sign_twilio(TEST_AUTH_TOKEN, url, form)})
    confirmed[number] = time.monotonic()
    replies = [m.text or "" for m in ET.fromstring(answer.text).iter("Message")] if answer.status_code == 200 else []
    if answer.status_code != 200 or not replies:
        problems.append(f"{number}: {answer.status_code} {answer.text[:200]}")


if POSTGRES_URL:  # several worker processes are a PostgreSQL deployment

    @pytest.mark.e2e
    @pytest.mark.timeout(300)
    def test_stop_wins_over_a_broadcast_sent_by_two_workers_through_a_failing_provider(tmp_path: Path) -> None:
        now = datetime.now(UTC)
        rng = random.Random(11)
        stoppers = [_number(n) for n in rng.sample(range(RESIDENTS), STOPPERS)]
        confirmed: dict[str, float] = {}
        problems: list[str] = []
        workers: list[subprocess.Popen[bytes]] = []
        with postgres_schema() as url, flaky_twilio(fail_first=40, throttle_share=1 / 70) as provider:
            _migrate(url, tmp_path)
            purpose = _seed(url, now)
            env = _env(url, provider)
            argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--no-delivery"]
            with loopline_server(env, cwd=tmp_path, log_dir=tmp_path, argv=argv) as server:
                engine = create_engine(normalise_url(url))
                try:
                    for n in range(2):
                        log = (tmp_path / f"worker-{n}.log").open("wb")
                        workers.append(
                            subprocess.Popen(
                                [sys.executable, "-m", "bot", "worker", "--log-level", "warning"],
                                cwd=tmp_path,
                                env=env,
                                stdout=log,
                                stderr=subprocess.STDOUT,
                            )
                        )
                    threads = []
                    for number in stoppers:
                        delay = rng.uniform(0.0, 3.0)
                        thread = threading.Timer(delay, _stop, (server.base_url, number, confirmed, problems))
                        thread.start()
                        threads.append(thread)
                    for thread in threads:
                        thread.join(timeout=60)

                    def drained() -> bool:
                        counts = _by_status(engine, purpose)
                        return not counts.get("pending") and not counts.get("sending")

                    wait_until(drained, 180, 0.25)
                    final = _by_status(engine, purpose)
                    odd = _rows(
                        engine,
                        "SELECT status, last_error, address FROM outbox WHERE purpose = :p "
                        "AND status NOT IN ('sent', 'cancelled')",
                        p=purpose,
                    )
                finally:
                    for worker in workers:
                        worker.terminate()
                    for worker in workers:
                        worker.wait(timeout=20)
                    engine.dispose()
                logs = "\n".join((tmp_path / f"worker-{n}.log").read_text(errors="replace")[-2000:] for n in range(2))

        assert not problems, problems
        assert len(confirmed) == STOPPERS
        got: dict[str, list[float]] = {}
        for to, _body, arrived in provider.accepted:
            got.setdefault(to, []).append(arrived)
        # The provider was as hostile as promised.
        assert provider.refused.get(500) == 40 and provider.refused.get(429, 0) >= 2, provider.refused
        late = {n: (confirmed[n], got[n]) for n in stoppers if any(t > confirmed[n] for t in got.get(n, []))}
        assert not late, f"sent after the STOP was confirmed: {late}"
        stopped = set(stoppers)
        twice = {to: len(times) for to, times in got.items() if len(times) > 1}
        assert not twice, twice
        missing = [n for n in map(_number, range(RESIDENTS)) if n not in stopped and n not in got]
        assert not missing, (missing, final, logs)
        outcome: dict[str, Any] = dict(final)
        # Sent, or cancelled by the STOP; or, when the STOP came while the row was in the provider's hands and the
        # provider refused it for now (a 500 or a 429), skipped at its next claim because the resident had opted out.
        assert all(status == "skipped" and why == "resident opted out" and to in stopped for status, why, to in odd), (
            outcome,
            odd,
            logs,
        )
        assert outcome.get("sent", 0) == len(got) and sum(outcome.values()) == RESIDENTS
