"""The public page: every language with the right lang/dir, open polls, events, published decisions with their
contributions and aggregate results; no group under 5, no personal data, no free text unless marked publishable."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.conversation.flows.loader import read_document
from bot.engagement.decisions import publishing as decisions
from bot.engagement.decisions.publishing import DecisionFields
from bot.engagement.events import calendar as events
from bot.engagement.feedback import triage
from bot.engagement.polls import definition as poll_store
from bot.i18n.formatting import format_event_time
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.store.engagement import Answer, Event, Poll
from bot.store.models import Resident
from bot.web.public import ways_in
from tests.support.chat import Chat
from tests.support.voices import give_feedback, join, open_demo_poll

ROOT = Path(__file__).resolve().parents[2]
ACTOR = "user:ana@health.example"
NUMBERS = ("+14155550801", "+14155550802")
PRIVATE = "My landlord at 12 Elm St is ignoring the mould"
PUBLIC_QUOTE = "An evening clinic would help working parents"


def _respondents(runtime: Runtime, slug: str, top_needs: list[str]) -> None:
    """Residents who answered the demo poll's first two questions (stored as the pipeline stores them)."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).one()
        for n, need in enumerate(top_needs):
            resident = Resident(locale="en", consent="granted", area=f"area-{n % 3}", created_at=now, updated_at=now)
            session.add(resident)
            session.flush()
            for question, value, kind in (("top_need", need, "ask-choice"), ("ranking", [need], "ask-ranking")):
                session.add(
                    Answer(
                        poll_id=poll.id,
                        resident_id=resident.id,
                        question=question,
                        value={"value": value, "kind": kind},
                        channel="sms",
                        locale="en",
                        area=resident.area,
                        created_at=now,
                        updated_at=now,
                    )
                )


def _decision(runtime: Runtime, slug: str, items: list[int], polls: list[str], publish: bool = True) -> None:
    texts = {
        "title": {
            "en": f"Evening clinic ({slug})",
            "es": f"Clínica por la tarde ({slug})",
            "ar": f"عيادة مسائية ({slug})",
        },
        "summary": {
            "en": "The clinic opens until 8pm.",
            "es": "La clínica abre hasta las 8 pm.",
            "ar": "تفتح العيادة حتى 8 مساءً.",
        },
        "changed": {"en": "Thursday evenings, as you asked.", "es": "Los jueves por la tarde, como pediste."},
        "not_adopted": {"en": "Weekends: no staff yet."},
    }
    fields = DecisionFields(texts, "County Health Department", ["Eastside Promotoras"], slug)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        decision = decisions.create(session, fields, "en", ACTOR, now)
        for ref in items:
            decisions.link_item(session, decision, ref, "acted_on", ACTOR, now)
        for poll in polls:
            decisions.link_poll(session, decision, poll, ACTOR, now)
        if publish:
            decisions.publish(session, decision, Program("EHV", None, "en"), runtime.flows, ACTOR, now)


@pytest.fixture
def world(runtime: Runtime, chat: Callable[..., Chat]) -> dict[str, int]:
    """An open poll (12 respondents: 6, 5 and 1 on three options), a small poll (2), an event, two residents'
    feedback (one marked publishable), a published decision citing all that, and a draft."""
    open_demo_poll(runtime)
    _respondents(runtime, "health-priorities", ["clinics"] * 6 + ["healthy_food"] * 5 + ["mental_health"])
    with runtime.db.transaction() as session:
        small, _version = poll_store.load_poll(
            session, read_document(ROOT / "tests" / "polls" / "all_kinds.yaml"), runtime.flows, runtime.clock
        )
        poll_store.set_status(session, small.slug, "closed", runtime.clock.now())
        document = events.moved_to_offset(
            read_document(ROOT / "bot/engagement/demo/health-fair.yaml"), runtime.clock.now()
        )
        events.load_event(session, document, runtime.clock.now())
    _respondents(runtime, "all-kinds", [])
    quoted = give_feedback(join(chat, Channel.SMS, NUMBERS[0], "es"), "es", PUBLIC_QUOTE, may_contact=True)
    private = give_feedback(join(chat, Channel.SMS, NUMBERS[1], "en"), "en", PRIVATE, may_contact=True)
    with runtime.db.transaction() as session:
        triage.set_publishable(session, triage.find_item(session, quoted), True, ACTOR, runtime.clock.now())
    _decision(runtime, "evening", [quoted, private], ["health-priorities", "all-kinds"])
    _decision(runtime, "secret-draft", [], [], publish=False)
    return {"quoted": quoted, "private": private}


def test_spanish_page_has_polls_events_decisions_and_safe_results(client: TestClient, world: dict[str, int]) -> None:
    response = client.get("/public?lang=es")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"
    page = response.text
    assert '<html lang="es" dir="ltr">' in page
    assert "Encuestas abiertas" in page and "Prioridades de salud de la comunidad" in page
    assert "Para participar, envía SALUD por mensaje de texto." in page  # SMS is the one live channel here
    assert "Feria de salud comunitaria del Eastside" in page
    with client.app.state.runtime.db.transaction() as session:  # type: ignore[attr-defined]
        fair = session.scalars(select(Event)).one()
        when = format_event_time(
            fair.starts_at, fair.ends_at, "es", event_zone=fair.timezone, reader_zone=None, sms=False
        )
        assert fair.timezone != "UTC"  # the page shows the event's own time, not the server's
    assert when in page
    assert "Clínica por la tarde (evening)" in page and "Los jueves por la tarde, como pediste." in page
    assert "Weekends: no staff yet." in page  # no Spanish text: the default language's
    assert "Basado en 14 aportes de residentes" in page  # 2 items + 12 respondents
    assert "County Health Department" in page and "Eastside Promotoras" in page
    top_need = page.split("¿Cuál es la mayor necesidad de salud en tu vecindario?")[1].split("</table>")[0]
    assert re.search(r"Clínicas cerca de casa</th>\s*<td class=\"num\">50 %", top_need)
    assert 'Comida sana y accesible</th>\n          <td class="num"><span class="muted">oculto por privacidad' in (
        top_need
    )  # 5 chose it, but only 1 chose the rest: showing it would reveal that group
    assert top_need.count("menos de 5") == 3 and "12 residentes respondieron" in top_need
    assert "Los resultados solo se muestran cuando respondieron al menos 5 residentes." in page  # all-kinds
    assert PUBLIC_QUOTE in page and PRIVATE not in page
    assert "secret-draft" not in page
    for number in (*NUMBERS, "4155550801", "Resident #"):
        assert number not in page


def test_arabic_page_is_right_to_left_and_every_language_is_complete(client: TestClient, world: dict[str, int]) -> None:
    page = client.get("/public?lang=ar").text
    assert '<html lang="ar" dir="rtl">' in page
    assert "سمعنا رأيك وعملنا به" in page and "عيادة مسائية (evening)" in page
    assert "بناءً على 14 مساهمةً من السكان" in page
    for locale, tag, name in (("es", "es", "Español"), ("zh_Hans", "zh-Hans", "中文"), ("ar", "ar", "العربية")):
        assert f'<a href="/public?lang={locale}" hreflang="{tag}" lang="{tag}"' in page
        assert name in page
    english = client.get("/public?lang=en").text
    for locale in SUPPORTED_LOCALES:
        translated = client.get(f"/public?lang={locale}").text
        assert f'lang="{locale.replace("_", "-")}"' in translated
        if locale != "en":
            assert "You said, we did" not in translated and "Open polls" not in translated
    assert "You said, we did" in english


def test_the_language_comes_from_the_query_then_the_browser_then_the_program(
    client: TestClient, world: dict[str, int]
) -> None:
    assert '<html lang="fr"' in client.get("/public", headers={"Accept-Language": "de;q=1, fr-CA;q=0.8"}).text
    assert '<html lang="vi"' in client.get("/public?lang=xx", headers={"Accept-Language": "vi-VN"}).text
    assert '<html lang="zh-Hans"' in client.get("/public?lang=zh-CN").text
    assert '<html lang="en"' in client.get("/public", headers={"Accept-Language": "*;q=0.5"}).text


def test_one_decision_page_and_no_drafts(client: TestClient, world: dict[str, int]) -> None:
    page = client.get("/public/decisions/evening?lang=ar")
    assert page.status_code == 200 and '<html lang="ar" dir="rtl">' in page.text
    assert "تفتح العيادة حتى 8 مساءً." in page.text and PRIVATE not in page.text
    missing = client.get("/public/decisions/secret-draft?lang=es")
    assert missing.status_code == 404 and "Esta decisión no existe." in missing.text
    assert client.get("/public/decisions/" + "x" * 500).status_code == 404


def test_public_pages_send_a_strict_content_security_policy(client: TestClient, world: dict[str, int]) -> None:
    response = client.get("/public?lang=es")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"


def test_who_takes_part_is_public_in_aggregate_only(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    """The public page compares who takes part with the population, by language and area; a group of fewer than 5
    shows no share."""
    from bot.engagement import representation
    from tests.test_representation import BASELINE, _community

    _community(chat)  # 15 English, 12 Spanish, 3 Vietnamese speakers
    with runtime.db.transaction() as session:
        representation.load_baseline(session, BASELINE, "en", "cli:test", runtime.clock.now())
    page = client.get("/public?lang=es").text
    section = page.split('<h2 id="who">', 1)[1].split("</section>", 1)[0]
    assert "Quién participa" in section and "Por idioma" in section
    rows = dict(re.findall(r'<th scope="row" dir="auto">([^<]+)</th><td class="num">([^<]+)</td>', section))
    assert rows["English"] == "50 %" and rows["Español"] == "40 %" and rows["Tiếng Việt"] == "menos de 5"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "text message, WhatsApp, or Telegram"),
        ("es", "mensaje de texto, WhatsApp o Telegram"),
        ("zh_Hans", "短信、WhatsApp或Telegram"),
        ("vi", "tin nhắn, WhatsApp hoặc Telegram"),
        ("ar", "رسالة نصية أو واتساب أو تيليجرام"),
        ("fr", "SMS, WhatsApp ou Telegram"),
    ],
)
def test_the_page_names_the_live_channels_in_its_language(locale: str, expected: str) -> None:
    assert ways_in(["sms", "whatsapp", "telegram", "simulator"], locale) == expected
    assert ways_in(["simulator"], locale) == ways_in(["sms"], locale)  # the simulator stands in for text messages
