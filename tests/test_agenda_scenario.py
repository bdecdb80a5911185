"""Communities set the agenda, one scripted scenario over SMS and Telegram (issue 15): proposals in three languages,
supports, a theme found across them, a decision co-decided with a partner who signs it off, notices in each
language naming the partner, implemented, "Did it happen?" answered, and the public page saying all of it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.clock import FixedClock
from bot.delivery.sweeps import Schedule, check_backs
from bot.engagement import proposals
from bot.engagement.decisions import publishing as decisions
from bot.engagement.decisions.publishing import DecisionFields
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.store.engagement import InputItem
from bot.store.models import OutboxItem
from bot.store.staff import Organization
from bot.store.themes import ThemeItem
from bot.web.app import create_app
from tests.conftest import make_settings
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

JOIN = {
    "en": ["hi", "1", "yes", "94110", "no"],
    "es": ["hola", "2", "sí", "94110", "no"],
    "vi": ["Xin chào", "4", "có", "94124", "không"],
    "ar": ["مرحبا", "5", "نعم", "94124", "لا"],
}
PROPOSALS = {
    "en": ("PROPOSE", "Shade at the bus stops, people wait in the sun"),
    "es": ("PROPUESTA", "Sombra en las paradas de autobús, esperamos al sol"),
    "vi": ("ĐỀ XUẤT", "Mái che ở trạm xe buýt, chờ xe buýt nắng quá"),
}


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    rt = Runtime(make_settings(database_url), clock=FixedClock(at=datetime(2026, 5, 4, 17, 0, tzinfo=UTC)))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def test_from_proposals_to_what_happened(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    sms = {locale: chat(Channel.SMS, f"+1415555090{n}") for n, locale in enumerate(("en", "es", "vi"))}
    telegram = {"es": chat(Channel.TELEGRAM, "99001"), "ar": chat(Channel.TELEGRAM, "99002")}
    for locale, resident in [*sms.items(), *telegram.items()]:
        for text in JOIN[locale]:
            resident.send(text)
    refs = {}
    for locale, (word, text) in PROPOSALS.items():
        sms[locale].send(word)
        said = sms[locale].send(text)[0].text
        refs[locale] = next(int(w.strip("#.")) for w in said.split() if w.strip("#.").isdigit())
    said_too = [
        "The bus stop on 3rd has no shade",
        "We need a shelter at the bus stop by the school",
        "My rent went up again, the landlord wants more",
        "The rent is too high, housing costs too much",
        "Rent keeps going up and the landlord does not fix anything",
    ]
    for n, text in enumerate(said_too):
        chat(Channel.SMS, f"+141555509{50 + n}")
        for step in [*JOIN["en"], "FEEDBACK", text, "1", "1"]:
            chat(Channel.SMS, f"+141555509{50 + n}").send(step)
    staff_email = make_user(runtime, "staff")
    partner_email = make_user(runtime, "partner", "ana@promotoras.example", organization="Eastside Promotoras")
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as staff:
        csrf = sign_in(staff, staff_email)
        for action, ref, extra in [("publish", refs["en"], {}), ("merge", refs["es"], {"into": str(refs["en"])})]:
            staff.post(f"/dashboard/proposals/{ref}/moderate", data={"csrf_token": csrf, "action": action, **extra})
        staff.post(
            f"/dashboard/proposals/{refs['vi']}/moderate",
            data={"csrf_token": csrf, "action": "merge", "into": str(refs["en"])},
        )
        for resident, word in ((telegram["es"], "APOYO"), (telegram["ar"], "ادعم")):
            said = resident.send(f"{word} {refs['es']}")[0].text
            assert str(refs["en"]) in said  # the merged number supports the kept one
        with runtime.db.transaction() as session:
            kept = proposals.by_ref(session, refs["en"])
            assert kept is not None and proposals.supporters(session, kept[0].id) == 2
        staff.post("/dashboard/themes/compute", data={"csrf_token": csrf})
        with runtime.db.transaction() as session:
            item_ids = {
                i.ref: i.id for i in session.scalars(select(InputItem).where(InputItem.ref.in_(list(refs.values()))))
            }
            themes_of = {
                t.item_id: t.theme_id
                for t in session.scalars(select(ThemeItem).where(ThemeItem.item_id.in_(item_ids.values())))
            }
            assert len(set(themes_of.values())) == 1  # three languages, one theme
            theme_id = next(iter(themes_of.values()))
            texts = {
                "title": {"en": "Shade at bus stops", "es": "Sombra en las paradas"},
                "summary": {"en": "Ten shelters by July."},
            }
            decisions.create(session, DecisionFields(texts=texts, slug="shade"), "en", "x", runtime.clock.now())
            org = session.scalars(select(Organization.id)).one()
        staff.post(f"/dashboard/themes/{theme_id}/cite", data={"csrf_token": csrf, "decision": "shade"})
        staff.post(
            "/dashboard/decisions/shade/co-owners",
            data={"csrf_token": csrf, "organization_id": str(org), "co_decided": "1"},
        )
        assert staff.post("/dashboard/decisions/shade/publish", data={"csrf_token": csrf}).status_code == 409
        with TestClient(staff.app, base_url="http://testserver") as partner:
            token = sign_in(partner, partner_email)
            assert partner.post("/dashboard/decisions/shade/sign-off", data={"csrf_token": token}).status_code == 200
        assert "Published." in staff.post("/dashboard/decisions/shade/publish", data={"csrf_token": csrf}).text
        staff.post("/dashboard/decisions/shade/stage", data={"csrf_token": csrf, "stage": "implemented"})
        with runtime.db.transaction() as session:
            told = [
                o.text for o in session.scalars(select(OutboxItem).where(OutboxItem.purpose.startswith("decision:")))
            ]
            later = runtime.clock.now() + timedelta(days=31)
            asked = check_backs(session, later, Schedule(program=Program.of(runtime.settings)), runtime.flows)
        assert any("Decidido junto con Eastside Promotoras." in t for t in told)
        assert any("Đã xong" in t or "đã hoàn thành" in t for t in told)
        assert asked == 5  # the three authors and the two who gave feedback
        for resident in [*sms.values()]:
            resident.send("1")
        for n in range(2):  # the two who said the bus stops had no shade
            chat(Channel.SMS, f"+141555509{50 + n}").send("2")
        public = staff.get("/public/decisions/shade?lang=es").text
    assert "Hecho" in public and "Eastside Promotoras" in public and "Sí 3, En parte 2, No 0" in public
