"""Answering on time (issue 15, item 4): every input item is due an answer within the program's response days (or by
its committed date); overdue items are on the dashboard; the public page shows how fast each language and area is
answered (a group of fewer than 5 not told apart); a proposal that reaches the support threshold gets a committed
date, announced to its author and supporters in their language."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.engagement import proposals
from bot.engagement.feedback import response_times
from bot.engagement.feedback.triage import record_status
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.store.engagement import InputItem
from bot.store.models import OutboxItem, Resident
from bot.web.app import create_app
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

DAYS = 60


def _items(runtime: Runtime, spec: list[tuple[str, str, int, int | None]]) -> None:
    """Items (language, area, days ago, answered after how many days or None) from one resident."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        resident = Resident(locale="es", consent="granted", fields={}, created_at=now, updated_at=now)
        session.add(resident)
        session.flush()
        for n, (locale, area, ago, answered_after) in enumerate(spec):
            created = now - timedelta(days=ago)
            item = InputItem(
                ref=5000 + n, kind="feedback", resident_id=resident.id, text=f"item {n}", status="received",
                channel="sms", locale=locale, area=area, created_at=created, updated_at=created,
            )  # fmt: skip
            session.add(item)
            session.flush()
            if answered_after is not None:
                record_status(session, item, "acted_on", "done", "staff@x", created + timedelta(days=answered_after))


def test_overdue_and_how_fast_each_group_is_answered(runtime: Runtime) -> None:
    spec = [("en", "Mission", 100, 10)] * 5 + [("es", "Mission", 100, 90)] * 5  # Spanish answered late
    spec += [("vi", "Bayview", 100, 20)] * 2 + [("en", "Bayview", 90, None), ("es", "Mission", 30, None)]
    _items(runtime, spec)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        assert response_times.overdue_count(session, now, DAYS) == 1  # 90 days old, unanswered; 30 days is not due
        found = response_times.speeds(session, DAYS)
    assert (found.overall.answered, found.overall.median_days) == (12, 20.0)
    by_language = {s.group: s for s in found.by_language}
    assert by_language["en"].on_time == 1.0 and by_language["es"].on_time == 0.0
    assert (by_language["es"].median_days, by_language[""].answered) == (90.0, 2)  # Vietnamese: fewer than 5
    assert by_language[""].median_days is None
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
        public = client.get("/public?lang=es").text
        assert "Qué tan rápido respondemos" in public and "en 60 días" in public
        assert "grupos de menos de 5, juntos" in public and "Tiếng Việt" not in public.split("how-fast")[-1]
        sign_in(client, make_user(runtime, "staff"))
        assert "<strong>1</strong> past their response date" in client.get("/dashboard").text
        overdue = client.get("/dashboard/inbox?overdue=1").text
        assert "item 12" in overdue and "item 13" not in overdue and "item 0" not in overdue


def test_a_proposal_at_its_threshold_gets_a_committed_date(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    runtime.pipeline.settings = replace(runtime.pipeline.settings, proposal_threshold=2)
    author = chat(Channel.SMS, "+14155550501")
    for text in ["hola", "2", "sí", "omitir", "no", "PROPUESTA", "Bancos en el parque"]:
        author.send(text)
    with runtime.db.transaction() as session:
        item = session.scalars(select(InputItem).where(InputItem.kind == "proposal")).one()
        proposal, _item = proposals.by_ref(session, item.ref) or (None, None)
        assert proposal is not None
        proposals.publish(session, proposal, item, "staff@x", runtime.clock.now(), Program.of(runtime.settings))
        ref = item.ref
    backers = [chat(Channel.TELEGRAM, "88801"), chat(Channel.SMS, "+14155550502")]
    joins = (["hi", "1", "yes", "skip", "no"], ["Bonjour", "6", "oui", "passer", "non"])
    for backer, join in zip(backers, joins, strict=True):
        for text in join:
            backer.send(text)
    backers[0].send(f"SUPPORT {ref}")
    with runtime.db.transaction() as session:
        assert session.scalars(select(InputItem.respond_by).where(InputItem.ref == ref)).one() is None
    backers[1].send(f"SOUTENIR {ref}")
    with runtime.db.transaction() as session:
        due = session.scalars(select(InputItem.respond_by).where(InputItem.ref == ref)).one()
        assert due is not None and due - runtime.clock.now() < timedelta(days=61)
        told = {o.text for o in session.scalars(select(OutboxItem).where(OutboxItem.purpose == "proposal"))}
    assert any(t.startswith(f"La #{ref} ya tiene 2 apoyos") for t in told)  # the author, in Spanish
    assert any(t.startswith(f"#{ref} now has 2 supporters") for t in told)
    assert any(t.startswith(f"La n° {ref} compte maintenant 2 soutiens") for t in told)
