"""The compensation pages (issue 14, item 7): staff attach an amount to an event and a poll, the event page shows
its check-in code and ticks who came, the ledger lists lines and totals (who is paid against the population), marks
paid (audited, the resident told) and downloads for finance; partners and viewers see none of it."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.conversation.flows.loader import read_document
from bot.engagement.events import calendar
from bot.engagement.polls import definition as polls
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.compensation import CompensationEntry
from bot.store.engagement import AuditEvent, Event, Rsvp
from bot.store.models import Address, OutboxItem
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

DEMO = Path(__file__).resolve().parents[2] / "bot" / "engagement" / "demo"


def _fair(runtime: Runtime) -> str:
    now = runtime.clock.now()
    document = {
        **read_document(DEMO / "health-fair.yaml"),
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=4)).isoformat(),
    }
    with runtime.db.transaction() as session:
        return calendar.load_event(session, document, now).slug


def _coming(runtime: Runtime, chat: Callable[..., Chat], number: str, join: list[str]) -> int:
    resident = chat(Channel.SMS, number)
    for text in join:
        resident.send(text)
    with runtime.db.transaction() as session:
        rid = session.scalar(select(Address.resident_id).where(Address.value == number))
        event = session.scalars(select(Event)).one()
        now = runtime.clock.now()
        session.add(Rsvp(event_id=event.id, resident_id=rid, response="yes", created_at=now, updated_at=now))
        assert rid is not None
        return int(rid)


def _audited(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.db.transaction() as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
        return rows


def test_offer_tick_ledger_paid_and_csv(client: TestClient, runtime: Runtime, chat: Callable[..., Chat]) -> None:
    slug = _fair(runtime)
    csrf = sign_in(client, make_user(runtime, "staff"))
    spanish = _coming(runtime, chat, "+14155550301", ["hola", "2", "sí", "omitir", "no"])
    english = _coming(runtime, chat, "+14155550302", ["hi", "1", "yes", "skip", "no"])

    refused = client.post(f"/dashboard/events/{slug}/compensation", data={"csrf_token": csrf, "amount": "25.555"})
    assert refused.status_code == 400 and "is not a currency code" in refused.text
    saved = client.post(
        f"/dashboard/events/{slug}/compensation", data={"csrf_token": csrf, "amount": "25", "currency": "usd"}
    )
    assert saved.status_code == 200 and "Compensation saved" in saved.text and "$25.00" in saved.text
    page = client.get(f"/dashboard/events/{slug}").text
    with runtime.db.transaction() as session:
        code = session.scalars(select(Event.checkin_code)).one()
    assert f"HERE {code}" in page and 'name="resident_id"' in page

    ticked = client.post(f"/dashboard/events/{slug}/check-ins", data={"csrf_token": csrf, "resident_id": [spanish]})
    assert "1 checked in." in ticked.text
    chat(Channel.SMS, "+14155550302").send(f"HERE {code}")  # the other checks in by text
    assert [a.details["residents"] for a in _audited(runtime, "event.check_in")] == [1]

    ledger = client.get("/dashboard/compensation").text
    assert "$50.00" in ledger and 'id="totals-language"' in ledger and "Español" in ledger
    assert 'id="payees-language"' in ledger  # who is paid, against the population
    with runtime.db.transaction() as session:
        lines = {e.resident_id: e.id for e in session.scalars(select(CompensationEntry))}
    assert set(lines) == {spanish, english}

    paid = client.post(f"/dashboard/compensation/{lines[spanish]}/paid", data={"csrf_token": csrf})
    assert "Marked paid" in paid.text
    again = client.post(f"/dashboard/compensation/{lines[spanish]}/paid", data={"csrf_token": csrf})
    assert again.status_code == 404
    assert len(_audited(runtime, "compensation.paid")) == 1
    with runtime.db.transaction() as session:
        told = session.scalars(
            select(OutboxItem).where(OutboxItem.purpose == "compensation", OutboxItem.resident_id == spanish)
        )
        assert any(t.text.startswith("Te pagamos 25,00 US$") for t in told)

    download = client.get("/dashboard/compensation.csv?status=paid")
    rows = list(csv.DictReader(io.StringIO(download.text.removeprefix("\ufeff"))))
    assert [(r["resident"], r["amount"], r["currency"], r["status"]) for r in rows] == [
        (str(spanish), "25.00", "USD", "paid")
    ]
    assert "+1415" not in download.text  # a resident's id, never their number

    ended = client.post(f"/dashboard/events/{slug}/compensation", data={"csrf_token": csrf, "action": "end"})
    assert "Compensation ended" in ended.text and [a.action for a in _audited(runtime, "compensation.end")]


def test_a_poll_offer_is_on_its_page(client: TestClient, runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        poll, _ = polls.load_poll(session, read_document(DEMO / "health-priorities.yaml"), runtime.flows, runtime.clock)
        slug = poll.slug
    csrf = sign_in(client, make_user(runtime, "admin"))
    page = client.post(
        f"/dashboard/polls/{slug}/compensation", data={"csrf_token": csrf, "amount": "10", "currency": "EUR"}
    )
    assert page.status_code == 200 and "is owed <strong>€10.00</strong>" in page.text


def test_partners_and_viewers_see_no_ledger(client: TestClient, runtime: Runtime) -> None:
    for role in ("partner", "viewer"):
        with TestClient(client.app, base_url="http://testserver") as other:
            sign_in(other, make_user(runtime, role))
            assert other.get("/dashboard/compensation").status_code == 403
            assert "/dashboard/compensation" not in other.get("/dashboard").text
