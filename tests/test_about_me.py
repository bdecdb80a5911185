"""What residents say about themselves (issue 14, item 2): its own consent, stored apart (never in the message log),
held only under that consent, offered once, deletable at once (even after STOP), erasable entirely after a yes, and
counted in the representation report only in groups of 5 or more."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from bot.engagement import representation
from bot.engagement.residents import about_me
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.about_me import AboutMeAnswer, AboutMeConsent
from bot.store.engagement import AuditEvent
from bot.store.models import Address, Message, OutboxItem, Resident
from tests.support.chat import Chat

JOIN = ["hi", "1", "yes", "skip"]
# yes to the offer; 25-34; more than one, then own words; woman; English; no disability; rent.
ANSWERS = ["yes", "3", "8", "Filipino and Mexican American", "1", "1", "2", "1"]


def _rows(runtime: Runtime, model: type, resident_id: int | None = None) -> list:
    with runtime.db.transaction() as session:
        query = select(model)
        if resident_id is not None:
            query = query.where(model.resident_id == resident_id)
        rows = list(session.scalars(query))
        session.expunge_all()
        return rows


def _resident_id(runtime: Runtime, address: str) -> int | None:
    with runtime.db.transaction() as session:
        return session.scalar(select(Address.resident_id).where(Address.value == address))


def _texts(said: list) -> str:
    return "\n".join(s.text for s in said)


def test_answers_are_kept_apart_under_their_own_consent(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat(Channel.SMS, "+14155550111")
    for text in [*JOIN, *ANSWERS]:
        resident.send(text)
    rid = _resident_id(runtime, "+14155550111")
    stored = {a.question: a.value["value"] for a in _rows(runtime, AboutMeAnswer, rid)}
    assert stored == {
        "age_band": "25_34",
        "race": "two_or_more",
        "race_words": "Filipino and Mexican American",
        "gender": "woman",
        "home_language": "en",
        "disability": "no",
        "housing": "rent",
    }
    assert [c.state for c in _rows(runtime, AboutMeConsent, rid)] == ["granted"]
    # The message log keeps that an answer came, never its words.
    logged = "\n".join(m.text for m in _rows(runtime, Message, rid))
    assert "Filipino" not in logged and about_me.REDACTED in logged
    # Own words are never a group: only the choices are counted.
    with runtime.db.transaction() as session:
        groups = about_me.groups(session)
    assert rid is not None and "race_words" not in groups[rid] and groups[rid]["race"] == "two_or_more"


def test_offered_once_and_passed_over_by_anything_else(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat(Channel.SMS, "+14155550112")
    for text in JOIN[:-1]:
        resident.send(text)
    offer = _texts(resident.send("skip"))
    assert "6 short questions" in offer
    kept = _texts(resident.send("The bus shelter on 3rd is broken"))
    assert "we received your message as #" in kept  # kept as input: the offer ends, nothing is lost
    assert "6 short questions" not in _texts(resident.send("LANGUAGE")) + _texts(resident.send("1"))
    rid = _resident_id(runtime, "+14155550112")
    assert _rows(runtime, AboutMeConsent, rid) == [] and _rows(runtime, AboutMeAnswer, rid) == []


def test_no_and_skip_keep_nothing(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat(Channel.SMS, "+14155550113")
    for text in [*JOIN, "no", "ABOUT ME", "yes", "skip", "10", "skip", "skip", "skip", "skip"]:
        resident.send(text)
    rid = _resident_id(runtime, "+14155550113")
    assert [c.state for c in _rows(runtime, AboutMeConsent, rid)] == ["declined", "granted"]
    assert {a.question: a.value["value"] for a in _rows(runtime, AboutMeAnswer, rid)} == {"race": "prefer_not"}
    resident.send("ABOUT ME")
    resident.send("no")  # a later no deletes what was said
    assert _rows(runtime, AboutMeAnswer, rid) == []


def test_delete_my_data_deletes_about_me_at_once_even_after_stop(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat(Channel.SMS, "+14155550114")
    for text in [*JOIN, *ANSWERS, "STOP"]:
        resident.send(text)
    rid = _resident_id(runtime, "+14155550114")
    assert len(_rows(runtime, AboutMeAnswer, rid)) == 7
    assert resident.send("DELETE MY DATA") == []  # nothing is sent after STOP
    assert _rows(runtime, AboutMeAnswer, rid) == []
    assert [c.state for c in _rows(runtime, AboutMeConsent, rid)] == ["granted", "withdrawn"]


def test_delete_my_data_then_yes_erases_everything(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    for channel, address in ((Channel.SMS, "+14155550115"), (Channel.TELEGRAM, "5550115")):
        resident = chat(channel, address)
        for text in [*JOIN, *ANSWERS, "FEEDBACK", "More shade at the bus stop", "skip", "no"]:
            resident.send(text)
        rid = _resident_id(runtime, address)
        summary = _texts(resident.send("MY DATA"))
        assert "About you: 7" in summary and "Feedback: 1" in summary and "shade" not in summary
        asked = _texts(resident.send("DELETE MY DATA"))
        assert "Delete everything else too" in asked and _rows(runtime, AboutMeAnswer, rid) == []
        assert "Everything we held about you is deleted" in _texts(resident.send("yes"))
        assert _resident_id(runtime, address) is None
        with runtime.db.transaction() as session:
            assert session.get(Resident, rid) is None
            left = session.scalars(select(Message.text).where(Message.address == address)).all()
            assert all("shade" not in text and "Filipino" not in text for text in left)
            erased = session.scalars(select(AuditEvent).where(AuditEvent.action == "resident.erase")).all()
            assert erased and erased[-1].actor == "resident"
            pending = session.scalar(select(func.count(OutboxItem.id)).where(OutboxItem.resident_id == rid))
            assert pending == 0


def test_no_self_described_group_of_fewer_than_five_is_named(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    # Six residents: five aged 25-34, one 65+; two rent, four own.
    for n in range(6):
        resident = chat(Channel.SMS, f"+1415555{n:04d}")
        age = "7" if n == 5 else "3"
        housing = "1" if n < 2 else "2"
        for text in [*JOIN, "yes", age, "skip", "skip", "skip", "skip", housing]:
            resident.send(text)
    with runtime.db.transaction() as session:
        report = representation.report(session)
    by_dimension = {d.dimension: {g.group: g.respondents for g in d.groups} for d in report.dimensions}
    assert by_dimension["age_band"] == {"25_34": 5, representation.SMALL_GROUPS: 1}
    assert by_dimension["housing"] == {representation.SMALL_GROUPS: 6}
