"""Publishing a decision: items move to their outcome, every contributor is told once in their language, on their
channel, with the public page and their area's poll results; STATUS agrees; STOP means nothing is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.clock import FixedClock
from bot.conversation.router import DECIDED_TEXTS, STATUS_TEXTS
from bot.delivery.worker import DeliveryWorker
from bot.engagement.decisions import publishing as decisions
from bot.engagement.decisions.notices import NOTICE_REF, notice_text
from bot.engagement.decisions.publishing import DecisionError, DecisionFields
from bot.i18n.bidi import isolate
from bot.i18n.catalogs import Translator
from bot.messages import Channel, Outbound, SendResult, SendStatus
from bot.program import Program
from bot.runtime import Runtime, send_rules
from bot.store.engagement import AuditEvent, InputItem, InputStatusChange
from bot.store.models import OutboxItem
from tests.conftest import make_settings
from tests.support.chat import Chat
from tests.support.voices import answer_demo_poll, give_feedback, join, open_demo_poll

ACTOR = "user:ana@health.example"
PUBLIC_URL = "https://health.example"
PROGRAM = Program("Eastside Health Voices", PUBLIC_URL, "en")
SUMMARIES = {
    "en": "Clinics will have interpreters on Saturdays.",
    "es": "Las clínicas tendrán intérpretes los sábados.",
    "ar": "ستوفر العيادات مترجمين أيام السبت.",
}


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    """SMS and Telegram live, a public address, and a clock at 18:00 UTC (daytime: nothing waits for quiet hours)."""
    settings = make_settings(database_url, LOOPLINE_PUBLIC_URL=PUBLIC_URL)
    rt = Runtime(settings, clock=FixedClock(at=datetime(2026, 3, 2, 18, 0, tzinfo=UTC)))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def draft(runtime: Runtime, slug: str = "interpreters") -> None:
    fields = DecisionFields(
        texts={"title": {"en": "Interpreters at clinics", "es": "Intérpretes en las clínicas"}, "summary": SUMMARIES},
        decided_by="County Health Department",
        partners=["Eastside Promotoras"],
        slug=slug,
    )
    with runtime.db.transaction() as session:
        decisions.create(session, fields, "en", ACTOR, runtime.clock.now())


def publish(runtime: Runtime, slug: str = "interpreters") -> decisions.Published:
    with runtime.db.transaction() as session:
        decision = decisions.find(session, slug)
        return decisions.publish(session, decision, PROGRAM, runtime.flows, ACTOR, runtime.clock.now())


class Recorder:
    """A provider stand-in for one channel that accepts every message."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.sent: list[Outbound] = []

    async def send(self, outbound: Outbound) -> SendResult:
        self.sent.append(outbound)
        return SendResult(SendStatus.SENT, provider_id=f"{self.channel.value}-{len(self.sent)}")


def drain(runtime: Runtime) -> dict[Channel, Recorder]:
    """The real delivery worker (consent, quiet hours, pacing) over recorders, until nothing more is due."""
    recorders = {channel: Recorder(channel) for channel in (Channel.SMS, Channel.TELEGRAM)}
    worker = DeliveryWorker(runtime.db, recorders, runtime.clock, rules=send_rules(runtime.settings))

    async def no_wait(seconds: float) -> None:
        return None

    worker.sleep = no_wait
    while asyncio.run(worker.run_once()):
        pass
    return recorders


def notices(runtime: Runtime) -> dict[int, OutboxItem]:
    with runtime.db.transaction() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.purpose.startswith("decision:"))).all()
        for row in rows:
            session.expunge(row)
    return {row.resident_id or 0: row for row in rows}


def test_publishing_tells_each_contributor_once_in_their_language_and_status_agrees(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    spanish = join(chat, Channel.SMS, "+14155550201", "es")
    ref_es = give_feedback(spanish, "es", "Necesitamos intérpretes en la clínica", may_contact=False)
    arabic = join(chat, Channel.TELEGRAM, "70000201", "ar")
    ref_ar = give_feedback(arabic, "ar", "نحتاج إلى مترجمين في العيادة", may_contact=True)
    leaves_later = join(chat, Channel.SMS, "+14155550202")
    ref_later = give_feedback(leaves_later, "en", "Interpreters please", may_contact=True)
    left = join(chat, Channel.SMS, "+14155550203")
    ref_left = give_feedback(left, "en", "More languages at the clinic", may_contact=True)
    left.send("STOP")
    draft(runtime)
    with runtime.db.transaction() as session:
        decision = decisions.find(session, "interpreters")
        for ref, outcome in ((ref_es, "acted_on"), (ref_ar, "not_adopted"), (ref_later, "acted_on")):
            decisions.link_item(session, decision, ref, outcome, ACTOR, runtime.clock.now())
        decisions.link_item(session, decision, ref_left, "acted_on", ACTOR, runtime.clock.now())
        with pytest.raises(DecisionError, match="acted_on or not_adopted"):
            decisions.link_item(session, decision, ref_es, "maybe", ACTOR, runtime.clock.now())
        assert decisions.contributions(session, decision) == 4

    done = publish(runtime)
    assert (done.moved, done.notified, done.already) == (4, 3, False)  # the resident who had stopped is not told
    queued = notices(runtime)
    with runtime.db.transaction() as session:
        by_ref = {item.ref: item for item in session.scalars(select(InputItem))}
        ids = {ref: by_ref[ref].resident_id for ref in by_ref}
        reasons = {c.reason for c in session.scalars(select(InputStatusChange))}
        changes = session.scalar(select(func.count()).select_from(InputStatusChange))
    assert {ref: item.status for ref, item in by_ref.items()} == {
        ref_es: "acted_on",
        ref_ar: "not_adopted",
        ref_later: "acted_on",
        ref_left: "acted_on",
    }
    assert reasons == {"Decision: Interpreters at clinics"}
    spanish_row, arabic_row = queued[ids[ref_es] or 0], queued[ids[ref_ar] or 0]
    link_es = f"{PUBLIC_URL}/public/decisions/interpreters?lang=es"
    assert spanish_row.channel == "sms"
    assert spanish_row.text == Translator("es").gettext(
        NOTICE_REF, program=PROGRAM.name, summary=SUMMARIES["es"], url=link_es, ref=ref_es
    )
    assert spanish_row.text.startswith(
        f"Eastside Health Voices - lo que dijiste (#{ref_es}), lo que hicimos: Las clínicas"
    )
    assert arabic_row.channel == "telegram"
    assert SUMMARIES["ar"] in arabic_row.text and "التفاصيل" in arabic_row.text
    assert arabic_row.text.endswith(f"{PUBLIC_URL}/public/decisions/interpreters?lang=ar")
    assert ids[ref_left] not in queued

    again = publish(runtime)
    assert again == decisions.Published(0, 0, already=True)
    assert len(notices(runtime)) == 3
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(InputStatusChange)) == changes
        published = session.scalars(select(AuditEvent).where(AuditEvent.action == "decision.publish")).all()
        assert [event.details["notified"] for event in published] == [3]

    leaves_later.send("STOP")
    sent = drain(runtime)
    told = {channel: [o for o in r.sent if "/public/decisions/" in o.text] for channel, r in sent.items()}
    assert [(o.address.value, o.text) for o in told[Channel.SMS]] == [("+14155550201", spanish_row.text)]
    assert [(o.address.value, o.text) for o in told[Channel.TELEGRAM]] == [("70000201", arabic_row.text)]
    assert notices(runtime)[ids[ref_later] or 0].status == "cancelled"
    assert drain(runtime)[Channel.SMS].sent == []  # nothing twice

    # STATUS after the decision says what was decided and where to read it, not "we will let you know".
    decided_es = Translator("es").gettext(DECIDED_TEXTS["acted_on"], ref=ref_es, decision="Intérpretes en las clínicas")
    assert spanish.texts(f"ESTADO {ref_es}") == [f"{decided_es}\n{link_es}"]
    said = [s.text for s in arabic.send(f"STATUS {ref_ar}")]
    title_ar = isolate("Interpreters at clinics", "rtl")  # no Arabic title: the first language's, isolated
    decided_ar = Translator("ar").gettext(DECIDED_TEXTS["not_adopted"], ref=ref_ar, decision=title_ar)
    assert said == [f"{decided_ar}\n{PUBLIC_URL}/public/decisions/interpreters?lang=ar"]
    assert STATUS_TEXTS["acted_on"] != DECIDED_TEXTS["acted_on"]


def test_a_published_decision_cannot_be_changed_and_needs_its_default_texts(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        with pytest.raises(DecisionError, match="default language"):
            decisions.create(session, DecisionFields(texts={"title": {"es": "Sólo"}}), "en", ACTOR, runtime.clock.now())
        with pytest.raises(DecisionError, match="letters a-z"):
            fields = DecisionFields(texts={"title": {"en": "T"}, "summary": {"en": "S"}}, slug="Bad Slug!")
            decisions.create(session, fields, "en", ACTOR, runtime.clock.now())
    draft(runtime)
    draft(runtime, slug="")  # a slug made from the title, kept unique
    publish(runtime)
    with runtime.db.transaction() as session:
        assert decisions.find(session, "interpreters-at-clinics").status == "draft"
        decision = decisions.find(session, "interpreters")
        assert decisions.missing_languages(decision) == ["zh_Hans", "vi", "ar", "fr"]  # ar: a summary, no title
        with pytest.raises(DecisionError, match="published"):
            decisions.link_poll(session, decision, "health-priorities", ACTOR, runtime.clock.now())
    text = notice_text(decision, "fr", Program("EHV", None, "en"))
    assert text == "EHV - vous avez parlé, nous avons agi : Clinics will have interpreters on Saturdays."


def test_respondents_hear_their_own_areas_results_only_when_5_or_more_answered_there(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    open_demo_poll(runtime)
    people = [
        ("+14155550301", "en", "94110", "1"),
        ("+14155550302", "en", "94110", "1"),
        ("+14155550303", "es", "94110", "1"),
        ("+14155550304", "en", "94110", "2"),
        ("+14155550305", "en", "94110", "2"),
        ("+14155550306", "en", "10001", "3"),
        ("+14155550307", "en", "10001", "3"),
    ]
    for number, locale, area, choice in people:
        answer_demo_poll(join(chat, Channel.SMS, number, locale, area=area), choice)
    draft(runtime)
    with runtime.db.transaction() as session:
        decision = decisions.find(session, "interpreters")
        decisions.link_poll(session, decision, "health-priorities", ACTOR, runtime.clock.now())
        assert decisions.contributions(session, decision) == 7
    assert publish(runtime).notified == 7
    texts = {row.address: row.text for row in notices(runtime).values()}
    in_area = "Community health priorities, results in 94110: Clinics close to home 60%"
    assert [n for n, text in texts.items() if in_area in text] == [
        "+14155550301",
        "+14155550302",
        "+14155550304",
        "+14155550305",
    ]
    assert (
        "Prioridades de salud de la comunidad, resultados en 94110: Clínicas cerca de casa 60 %"
        in texts["+14155550303"]
    )
    overall = "Community health priorities, results: Clinics close to home 43%"  # 10001 has only 2 respondents
    for number in ("+14155550306", "+14155550307"):
        assert overall in texts[number]
        assert "10001" not in texts[number]
    assert all(text.count("Clinics close to home") <= 1 for text in texts.values())  # the ranking says the same


def test_no_results_are_sent_when_fewer_than_5_answered(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    open_demo_poll(runtime)
    for number in ("+14155550401", "+14155550402", "+14155550403"):
        answer_demo_poll(join(chat, Channel.SMS, number, "en", area="94110"), "4")
    draft(runtime)
    with runtime.db.transaction() as session:
        decisions.link_poll(
            session, decisions.find(session, "interpreters"), "health-priorities", ACTOR, runtime.clock.now()
        )
    publish(runtime)
    texts = [row.text for row in notices(runtime).values()]
    assert len(texts) == 3
    assert all("results" not in text and "Clean air" not in text for text in texts)
