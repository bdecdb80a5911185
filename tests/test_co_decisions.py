"""Partners co-own (issue 15, item 3): staff name a decision's co-owning organizations and mark it co-decided; it is
published only after each has signed off in the dashboard (a partner user of that organization; each audited; a
change to the draft asks them again); the notices and the public page name the partners."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.conversation.flows.loader import read_document
from bot.engagement import proposals
from bot.engagement.decisions import publishing as decisions
from bot.engagement.decisions.publishing import DecisionFields
from bot.engagement.polls import definition as polls
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.store.engagement import AuditEvent, InputItem
from bot.store.models import OutboxItem
from bot.store.staff import Organization
from bot.web.app import create_app
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

TEXTS = {"title": {"en": "Interpreters at clinics"}, "summary": {"en": "Clinics will have interpreters."}}


def _draft(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat(Channel.SMS, "+14155550801")
    for text in ["hola", "2", "sí", "omitir", "no", "COMENTARIO", "Faltan intérpretes", "1", "1"]:
        resident.send(text)
    with runtime.db.transaction() as session:
        decision = decisions.create(
            session, DecisionFields(texts=TEXTS, slug="interpreters"), "en", "x", runtime.clock.now()
        )
        for ref in session.scalars(select(InputItem.ref)):
            decisions.link_item(session, decision, ref, "acted_on", "x", runtime.clock.now())


def _org_id(runtime: Runtime, name: str) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalars(select(Organization.id).where(Organization.name == name)).one())


def test_co_decided_waits_for_every_sign_off(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    _draft(runtime, chat)
    staff_email = make_user(runtime, "staff")
    promotoras = make_user(runtime, "partner", "ana@promotoras.example", organization="Eastside Promotoras")
    tenants = make_user(runtime, "partner", "li@tenants.example", organization="Mission Tenants Union")
    outsider = make_user(runtime, "partner", "sam@other.example", organization="Another Group")
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as staff:
        csrf = sign_in(staff, staff_email)
        ids = [_org_id(runtime, "Eastside Promotoras"), _org_id(runtime, "Mission Tenants Union")]
        saved = staff.post(
            "/dashboard/decisions/interpreters/co-owners",
            data={"csrf_token": csrf, "organization_id": [str(i) for i in ids], "co_decided": "1"},
        )
        assert "waits for each one" in saved.text and "waiting for its sign-off" in saved.text
        refused = staff.post(
            "/dashboard/decisions/interpreters/publish", data={"csrf_token": csrf}, follow_redirects=False
        )
        assert (
            refused.status_code == 409
            and "waiting for the sign-off of Eastside Promotoras, Mission Tenants Union" in refused.text
        )
        assert staff.post("/dashboard/decisions/interpreters/sign-off", data={"csrf_token": csrf}).status_code == 403

        def signs(email: str) -> int:
            with TestClient(staff.app, base_url="http://testserver") as partner:
                token = sign_in(partner, email)
                page = partner.get("/dashboard/decisions/interpreters")
                if page.status_code != 200:
                    return page.status_code
                return partner.post(
                    "/dashboard/decisions/interpreters/sign-off", data={"csrf_token": token}
                ).status_code

        assert signs(outsider) == 404  # not theirs: they do not even see the draft
        assert signs(promotoras) == 200
        edited = staff.post(
            "/dashboard/decisions/interpreters/edit",
            data={"csrf_token": csrf, "title_en": "Interpreters at every clinic", "summary_en": "All clinics."},
        )
        assert edited.status_code == 200  # the draft changed: Promotoras is asked again
        assert (
            "waiting for the sign-off of Eastside Promotoras"
            in staff.post("/dashboard/decisions/interpreters/publish", data={"csrf_token": csrf}).text
        )
        assert signs(promotoras) == 200 and signs(tenants) == 200
        published = staff.post("/dashboard/decisions/interpreters/publish", data={"csrf_token": csrf})
        assert "Published." in published.text
        public = staff.get("/public/decisions/interpreters").text
        assert "Eastside Promotoras, Mission Tenants Union" in public
    with runtime.db.transaction() as session:
        told = [o.text for o in session.scalars(select(OutboxItem).where(OutboxItem.purpose.startswith("decision:")))]
        actions = [a.action for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert told and "Decidido junto con Eastside Promotoras, Mission Tenants Union." in told[0]
    assert actions.count("decision.sign_off") == 3 and "decision.co_owners" in actions


def test_polls_and_proposals_co_owned_are_shared_and_named(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    demo = Path(__file__).resolve().parents[1] / "bot" / "engagement" / "demo"
    with runtime.db.transaction() as session:
        poll, _ = polls.load_poll(session, read_document(demo / "health-priorities.yaml"), runtime.flows, runtime.clock)
        polls.set_status(session, poll.slug, "open", runtime.clock.now())
    resident = chat(Channel.SMS, "+14155550811")
    for text in ["hola", "2", "sí", "omitir", "no", "PROPUESTA", "Bancos en el parque"]:
        resident.send(text)
    with runtime.db.transaction() as session:
        item = session.scalars(select(InputItem).where(InputItem.kind == "proposal")).one()
        found = proposals.by_ref(session, item.ref)
        assert found is not None
        proposals.publish(session, found[0], item, "x", runtime.clock.now(), Program.of(runtime.settings))
        ref = item.ref
    partner = make_user(runtime, "partner", "ana@promotoras.example", organization="Eastside Promotoras")
    org = _org_id(runtime, "Eastside Promotoras")
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as staff:
        csrf = sign_in(staff, make_user(runtime, "staff"))
        for path in ("/dashboard/polls/health-priorities/co-owners", f"/dashboard/proposals/{ref}/co-owners"):
            saved = staff.post(path, data={"csrf_token": csrf, "organization_id": str(org)})
            assert "Co-owned with Eastside Promotoras." in saved.text
        public = staff.get("/public?lang=es").text
        assert public.count("Junto con Eastside Promotoras.") == 2
        with TestClient(staff.app, base_url="http://testserver") as theirs:
            sign_in(theirs, partner)
            assert theirs.get("/dashboard/polls/health-priorities").status_code == 200  # shared with the co-owner
            assert f"#{ref}" in theirs.get("/dashboard/proposals").text
        cleared = staff.post("/dashboard/polls/health-priorities/co-owners", data={"csrf_token": csrf})
        assert "No co-owning organization." in cleared.text
