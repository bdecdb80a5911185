"""Decisions that keep going (issue 15, item 5): a published decision moves to in progress, implemented, or changed
with why; each move tells its contributors once, in their language; some days after it was implemented each is asked
"Did this happen?" (once, when in no other conversation), a comment becoming an input item; the public page shows
where it stands, its timeline, and the answers once 5 or more gave one."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.clock import FixedClock
from bot.delivery.sweeps import Schedule, check_backs
from bot.engagement.decisions import progress
from bot.engagement.decisions import publishing as decisions
from bot.engagement.decisions.publishing import DecisionFields
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.store.engagement import DecisionCheckBack, InputItem
from bot.store.models import OutboxItem
from bot.web.app import create_app
from tests.conftest import make_settings
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

ACTOR = "user:staff@health.example"
JOINS = {
    "en": ["hi", "1", "yes", "skip", "no"],
    "es": ["hola", "2", "sí", "omitir", "no"],
    "vi": ["Xin chào", "4", "có", "bỏ qua", "không"],
}
FEEDBACK = {"en": "FEEDBACK", "es": "COMENTARIO", "vi": "GÓP Ý"}


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    rt = Runtime(make_settings(database_url), clock=FixedClock(at=datetime(2026, 3, 2, 18, 0, tzinfo=UTC)))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def _contributors(runtime: Runtime, chat: Callable[..., Chat], languages: list[str]) -> list[Chat]:
    people = []
    for n, locale in enumerate(languages):
        resident = chat(Channel.SMS, f"+141555506{n:02d}")
        for text in [*JOINS[locale], FEEDBACK[locale], f"Interpreters please ({n})", "1", "1"]:
            resident.send(text)
        people.append(resident)
    return people


def _published(runtime: Runtime) -> None:
    texts = {"title": {"en": "Interpreters at clinics", "es": "Intérpretes en las clínicas"}, "summary": {"en": "Yes."}}
    with runtime.db.transaction() as session:
        decision = decisions.create(
            session, DecisionFields(texts=texts, slug="interpreters"), "en", ACTOR, runtime.clock.now()
        )
        for ref in session.scalars(select(InputItem.ref)):
            decisions.link_item(session, decision, ref, "acted_on", ACTOR, runtime.clock.now())
        decisions.publish(session, decision, Program.of(runtime.settings), runtime.flows, ACTOR, runtime.clock.now())


def _move(runtime: Runtime, stage: str, why: dict[str, str] | None = None) -> int:
    with runtime.db.transaction() as session:
        decision = decisions.find(session, "interpreters")
        return progress.move(
            session, decision, stage, why or {}, ACTOR, runtime.clock.now(), Program.of(runtime.settings)
        )


def _told(runtime: Runtime, starts: str) -> list[str]:
    with runtime.db.transaction() as session:
        return [o.text for o in session.scalars(select(OutboxItem)) if o.text.startswith(starts)]


def test_each_move_tells_contributors_once_in_their_language(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    _contributors(runtime, chat, ["en", "es"])
    _published(runtime)
    assert _move(runtime, "in_progress") == 2
    assert (
        len(
            _told(
                runtime, "Eastside Health Voices: work has started on what we decided with you: Interpreters at clinics"
            )
        )
        == 1
    )
    assert (
        len(
            _told(
                runtime,
                "Eastside Health Voices: empezamos a trabajar en lo que decidimos contigo: Intérpretes en las clínicas",
            )
        )
        == 1
    )
    with pytest.raises(progress.ProgressError, match="cannot move to in progress"):
        _move(runtime, "in_progress")
    with pytest.raises(progress.ProgressError, match="Say what changed"):
        _move(runtime, "changed", {"es": "solo en español"})
    assert _move(runtime, "changed", {"en": "Saturdays only, from May."}) == 2
    assert _told(
        runtime,
        "Eastside Health Voices: a change to what we decided, Interpreters at clinics: Saturdays only, from May.",
    )
    assert _move(runtime, "implemented") == 2
    with runtime.db.transaction() as session:
        decision = decisions.find(session, "interpreters")
        assert decision.implemented_at is not None
        assert [c.stage for c in progress.timeline(session, decision)] == ["in_progress", "changed", "implemented"]


def test_check_back_asks_once_and_the_answers_show_from_five(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    people = _contributors(runtime, chat, ["en", "es", "vi", "en", "es"])
    _published(runtime)
    _move(runtime, "implemented")
    schedule = Schedule(program=Program.of(runtime.settings))
    with runtime.db.transaction() as session:
        assert check_backs(session, runtime.clock.now() + timedelta(days=29), schedule, runtime.flows) == 0  # too soon
    later = runtime.clock.now() + timedelta(days=31)
    with runtime.db.transaction() as session:
        assert check_backs(session, later, schedule, runtime.flows) == 5
    with runtime.db.transaction() as session:
        assert check_backs(session, later, schedule, runtime.flows) == 0  # once
    assert _told(runtime, "Te dijimos que haríamos esto: Intérpretes en las clínicas. ¿Se hizo?")
    for person, answer in zip(people, ["1", "2", "3", "1", "Sí"], strict=True):
        person.send(answer)
    people[1].send("Solo los sábados, y tarde")
    people[0].send("SKIP")
    with runtime.db.transaction() as session:
        answers = sorted(c.answer for c in session.scalars(select(DecisionCheckBack)))
        comment = session.scalars(select(InputItem).where(InputItem.text == "Solo los sábados, y tarde")).one()
    assert answers == ["no", "partly", "yes", "yes", "yes"] and comment.topic == "decision:interpreters"
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
        public = client.get("/public/decisions/interpreters?lang=es").text
        assert "En qué punto está:</strong> Hecho" in public
        assert "Sí 3, En parte 1, No 1" in public
        csrf = sign_in(client, make_user(runtime, "staff"))
        page = client.get("/dashboard/decisions/interpreters").text
        assert "Yes 3, partly 1, no 1" in page
        moved = client.post(
            "/dashboard/decisions/interpreters/stage", data={"csrf_token": csrf, "stage": "in_progress"}
        )
        assert moved.status_code == 400 and "cannot move to in progress" in moved.text
        changed = client.post(
            "/dashboard/decisions/interpreters/stage",
            data={"csrf_token": csrf, "stage": "changed", "why_en": "Moved to the new clinic."},
        )
        assert "Moved to changed; 5 residents will be told." in changed.text
