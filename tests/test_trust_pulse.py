"""The trust pulse (issue 15, item 6): residents taking part for a month or more are asked at most once a quarter
(as a broadcast: the frequency cap and quiet hours hold it) "Does the health department listen to people like you?";
the Trust page shows the answers over time and the latest quarter by language, area and what residents said about
themselves, never a group of fewer than 5."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.clock import FixedClock
from bot.delivery.sweeps import Schedule, trust_pulses
from bot.engagement import trust
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.store.models import OutboxItem
from bot.store.pulse import TrustPulse
from bot.web.app import create_app
from tests.conftest import make_settings
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

START = datetime(2026, 1, 10, 18, 0, tzinfo=UTC)
JOINS = {"en": ["hi", "1", "yes", "94110", "no"], "es": ["hola", "2", "sí", "94124", "no"]}


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    rt = Runtime(make_settings(database_url), clock=FixedClock(at=START))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def _sweep(runtime: Runtime, at: datetime) -> int:
    with runtime.db.transaction() as session:
        return trust_pulses(session, at, Schedule(program=Program.of(runtime.settings)), runtime.flows)


def test_asked_once_a_quarter_after_a_month_and_counted_in_groups_of_five(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    people = []
    for n in range(7):
        locale = "en" if n < 5 else "es"
        resident = chat(Channel.SMS, f"+141555507{n:02d}")
        for text in JOINS[locale]:
            resident.send(text)
        people.append(resident)
    assert _sweep(runtime, START + timedelta(days=3)) == 0  # newcomers are not asked
    asked_at = START + timedelta(days=40)  # 19 February: the first quarter
    assert _sweep(runtime, asked_at) == 7
    assert _sweep(runtime, asked_at + timedelta(days=10)) == 0  # once a quarter
    with runtime.db.transaction() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.purpose == "broadcast:trust-pulse")).all()
        assert len(rows) == 7 and any("¿el departamento de salud escucha a personas como tú?" in r.text for r in rows)
    runtime.clock = runtime.pipeline.clock = FixedClock(at=asked_at)
    for resident, answer in zip(people, ["5", "4", "2", "4", "5", "1", "SKIP"], strict=True):
        resident.send(answer)
    with runtime.db.transaction() as session:
        assert sorted(p.score for p in session.scalars(select(TrustPulse))) == [1, 2, 4, 4, 5, 5]
        by = trust.by_group(session, "2026Q1")
    assert [(t.group, t.answers, t.average) for t in by["language"]] == [("en", 5, 4.0), (trust.TOGETHER, 1, None)]
    assert _sweep(runtime, datetime(2026, 4, 2, 18, 0, tzinfo=UTC)) == 7  # a new quarter
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
        sign_in(client, make_user(runtime, "viewer"))
        page = client.get("/dashboard/trust").text
    assert "2026Q1" in page and "4.00" in page and "80%" in page and 'id="trust-over-time' in page
    assert "Español" not in page  # one Spanish answer: not told apart
