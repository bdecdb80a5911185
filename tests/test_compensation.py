"""Paying residents for their time (issue 14, item 7): an offer on an event or a poll; HERE and the event's code
checks in (each language, a code required, within the event's hours); whoever qualifies is owed once and asked how
they want it (right away, or by the payout sweep when ticked by staff or busy); marking paid tells them; erasure keeps
the line for finance without the person or where to send the money."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.conversation.flows.loader import read_document
from bot.conversation.keywords import match_check_in
from bot.delivery.sweeps import Schedule, payout_asks
from bot.engagement.compensation import ledger, offers
from bot.engagement.events import calendar
from bot.engagement.polls import definition as polls
from bot.engagement.residents.privacy import erase
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.store.compensation import CompensationEntry, EventCheckIn
from bot.store.engagement import Event
from bot.store.models import Address, Message, OutboxItem, Resident
from tests.support.chat import Chat

DEMO = Path(__file__).resolve().parents[1] / "bot" / "engagement" / "demo"
JOIN = ["hi", "1", "yes", "skip", "no"]  # English, yes, no area, no to the questions about oneself


def _event(runtime: Runtime, *, starts_in: timedelta = timedelta(hours=1), pays: str | None = "25") -> str:
    """The demo health fair, starting soon, paying 25 dollars to those who come; its check-in code."""
    now = runtime.clock.now()
    document = {
        **read_document(DEMO / "health-fair.yaml"),
        "starts_at": (now + starts_in).isoformat(),
        "ends_at": (now + starts_in + timedelta(hours=3)).isoformat(),
    }
    with runtime.db.transaction() as session:
        event = calendar.load_event(session, document, now)
        if pays is not None:
            offers.set_offer(session, offers.parse_terms(pays, "USD"), "staff@x", now, event_id=event.id)
        return offers.check_in_code(session, event, random.Random(7))


def _entries(runtime: Runtime) -> list[CompensationEntry]:
    with runtime.db.transaction() as session:
        rows = list(session.scalars(select(CompensationEntry).order_by(CompensationEntry.id)))
        session.expunge_all()
        return rows


def _resident(runtime: Runtime, address: str) -> Resident:
    with runtime.db.transaction() as session:
        rid = session.scalar(select(Address.resident_id).where(Address.value == address))
        resident = session.get(Resident, rid)
        assert resident is not None
        session.expunge(resident)
        return resident


def _joined(chat: Callable[..., Chat], address: str, join: list[str] = JOIN) -> Chat:
    resident = chat(Channel.SMS, address)
    for text in join:
        resident.send(text)
    return resident


def _said(resident: Chat, text: str) -> str:
    return "\n".join(s.text for s in resident.send(text))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("HERE 4821", "4821"),
        ("here #4821", "4821"),
        ("Check-in 4821", "4821"),
        ("AQUÍ 4821", "4821"),
        ("presente 4821", "4821"),
        ("ICI 4821", "4821"),
        ("签到 4821", "4821"),
        ("到 ４８２１", "4821"),
        ("CÓ MẶT 4821", "4821"),
        ("co mat 4821", "4821"),
        ("حاضر ٤٨٢١", "4821"),
        ("HERE", None),
        ("4821", None),
        ("hereby 4821", None),
        ("here we are 4821", None),
        ("here 12", None),
    ],
)
def test_check_in_words_need_their_code(text: str, code: str | None) -> None:
    assert match_check_in(text) == code


def test_check_in_by_code_owes_once_and_asks_how(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    code = _event(runtime)
    resident = _joined(chat, "+14155550201")
    said = _said(resident, f"HERE {code}")
    assert "You are checked in" in said and "You will receive $25.00" in said and "Gift card" in said
    assert "Where should we send it" in _said(resident, "3")
    assert "We will let you know when it is paid" in _said(resident, "@maria-l")
    [entry] = _entries(runtime)
    assert (entry.status, entry.amount_minor, entry.currency) == ("owed", 2500, "USD")
    assert (entry.payout, entry.payout_handle) == ("mobile_payment", "@maria-l")
    assert (entry.channel, entry.locale) == ("sms", "en")
    with runtime.db.transaction() as session:
        logged = [m.text for m in session.scalars(select(Message).where(Message.direction == "in"))]
    assert "@maria-l" not in logged and ledger.REDACTED_HANDLE in logged  # the handle lives on the ledger only
    assert "already checked in" in _said(resident, f"here {code}")
    assert len(_entries(runtime)) == 1


def test_wrong_code_closed_check_in_and_a_bare_word(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    code = _event(runtime, starts_in=timedelta(days=3))
    resident = _joined(chat, "+14155550202")
    wrong = "9999" if code != "9999" else "9998"
    assert f"could not find an event with the code {wrong}" in _said(resident, f"HERE {wrong}")
    assert "not open at this time" in _said(resident, f"HERE {code}")
    assert "send HERE and the code shown at the event" in _said(resident, "here")
    assert _entries(runtime) == []
    with runtime.db.transaction() as session:
        assert session.scalars(select(EventCheckIn)).first() is None


def test_spanish_and_arabic_residents_are_answered_in_their_language(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    code = _event(runtime)
    spanish = _joined(chat, "+14155550203", ["hola", "2", "sí", "omitir", "no"])
    said = _said(spanish, f"AQUÍ {code}")
    assert "25,00 US$" in said and "Feria de salud comunitaria del Eastside" in said
    arabic = _joined(chat, "+14155550204", ["مرحبا", "5", "نعم", "تخطي", "لا"])
    said = _said(arabic, f"حاضر {code}")
    assert "\u206825.00 US$\u2069" in said.replace("\u200f", "")  # the amount keeps its order in Arabic


def test_check_in_mid_poll_comes_back_to_the_poll(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    code = _event(runtime)
    with runtime.db.transaction() as session:
        poll, _ = polls.load_poll(session, read_document(DEMO / "health-priorities.yaml"), runtime.flows, runtime.clock)
        polls.set_status(session, poll.slug, "open", runtime.clock.now())
    resident = _joined(chat, "+14155550205")
    first_question = _said(resident, "HEALTH")
    said = _said(resident, f"HERE {code}")
    assert "You are checked in" in said and "How would you like it?" in said
    back = _said(resident, "1")
    assert "Back to the poll where you left off" in back
    assert "What is the biggest health need" in first_question and "What is the biggest health need" in back
    assert _entries(runtime)[0].payout == "gift_card"


def test_a_poll_that_pays_owes_those_who_complete_it(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    with runtime.db.transaction() as session:
        poll, _ = polls.load_poll(session, read_document(DEMO / "health-priorities.yaml"), runtime.flows, runtime.clock)
        polls.set_status(session, poll.slug, "open", runtime.clock.now())
        offers.set_offer(session, offers.parse_terms("10", "USD"), "staff@x", runtime.clock.now(), poll_id=poll.id)
    resident = _joined(chat, "+14155550206")
    said = ""
    for text in ["HEALTH", "mental health", "2 4 1", "More clinics"]:
        said = _said(resident, text)
    assert "You will receive $10.00" in said
    assert "We will let you know" in _said(resident, "2")
    for text in ["HEALTH", "mental health", "2 4 1", "More clinics"]:  # answered again: still owed once
        said = _said(resident, text)
    assert "You will receive" not in said
    assert [(e.amount_minor, e.payout) for e in _entries(runtime)] == [(1000, "cash")]


def test_ticked_by_staff_asked_by_the_sweep_then_paid_and_told(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    code = _event(runtime)
    resident = _joined(chat, "+14155550207", ["hola", "2", "sí", "omitir", "no"])
    program = Program.of(runtime.settings)
    rid = _resident(runtime, "+14155550207").id
    with runtime.db.transaction() as session:
        event = session.scalars(select(Event).where(Event.checkin_code == code)).one()
        someone = session.get(Resident, rid)
        assert someone is not None
        new, owed = ledger.check_in(session, event, someone, "sms", runtime.clock.now(), actor="staff@x")
        assert new and owed is not None
        again = ledger.check_in(session, event, someone, "sms", runtime.clock.now(), actor="staff@x")
        assert again == (False, None)
    with runtime.db.transaction() as session:
        assert payout_asks(session, runtime.clock.now(), Schedule(program=program), runtime.flows) == 1
    with runtime.db.transaction() as session:
        assert payout_asks(session, runtime.clock.now(), Schedule(program=program), runtime.flows) == 0  # once
        asked = session.scalars(select(OutboxItem).where(OutboxItem.purpose == "compensation")).one()
        assert "25,00 US$" in asked.text and "1 Tarjeta de regalo" in asked.text
    _said(resident, "1")
    [entry] = _entries(runtime)
    assert entry.payout == "gift_card"
    with runtime.db.transaction() as session:
        assert ledger.mark_paid(session, entry.id, "finance@x", runtime.clock.now(), program) is not None
        assert ledger.mark_paid(session, entry.id, "finance@x", runtime.clock.now(), program) is None  # once
        told = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == f"paid:{entry.id}")).one()
        assert "25,00 US$" in told.text and told.text.startswith("Te pagamos")


def test_after_stop_check_in_does_nothing_and_paid_is_not_texted(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    code = _event(runtime)
    resident = _joined(chat, "+14155550208")
    _said(resident, f"HERE {code}")
    _said(resident, "STOP")
    assert resident.send(f"HERE {code}") == []
    [entry] = _entries(runtime)
    with runtime.db.transaction() as session:
        ledger.mark_paid(session, entry.id, "finance@x", runtime.clock.now(), Program.of(runtime.settings))
        told = select(OutboxItem).where(OutboxItem.idempotency_key == f"paid:{entry.id}")
        assert session.scalars(told).first() is None


def test_erasure_keeps_the_amount_without_the_person(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    code = _event(runtime)
    resident = _joined(chat, "+14155550209")
    for text in [f"HERE {code}", "3", "+14155550209"]:
        _said(resident, text)
    rid = _resident(runtime, "+14155550209").id
    with runtime.db.transaction() as session:
        someone = session.get(Resident, rid)
        assert someone is not None
        counts = erase(session, someone)
    assert counts["compensation_lines_anonymised"] == 1
    [entry] = _entries(runtime)
    assert (entry.resident_id, entry.payout_handle, entry.amount_minor) == (None, None, 2500)
    with runtime.db.transaction() as session:
        assert session.scalars(select(EventCheckIn)).first() is None


@pytest.mark.parametrize(
    ("amount", "currency", "problem"),
    [
        ("0", "USD", "more than 0"),
        ("-5", "USD", "more than 0"),
        ("10001", "USD", "at most"),
        ("2.505", "USD", "2 decimal places"),
        ("5.5", "JPY", "0 decimal places"),
        ("ten", "USD", "as a number"),
        ("NaN", "USD", "more than 0"),
        ("10", "XYZ1", "not a currency code"),
    ],
)
def test_offers_refuse_what_finance_could_not_pay(amount: str, currency: str, problem: str) -> None:
    with pytest.raises(offers.OfferError, match=problem):
        offers.parse_terms(amount, currency)


def test_check_in_codes_are_distinct_and_grow_when_short_ones_run_out(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        base = read_document(DEMO / "health-fair.yaml")
        made = []
        for n in range(3):
            event = calendar.load_event(session, {**base, "slug": f"fair-{n}"}, now)
            made.append(offers.check_in_code(session, event, random.Random(1)))  # the same draws: must not collide
        assert len(set(made)) == 3 and all(len(code) == 4 and code[0] != "0" for code in made)
