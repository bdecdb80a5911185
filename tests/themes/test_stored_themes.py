"""Themes on the dashboard: computed over the input items and kept until computed again (names and confirmations
carried over), named, confirmed and merged by staff (audited); partners see the themes of what is shared with them."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.engagement.themes import stored
from bot.runtime import Runtime
from bot.staff import sharing
from bot.store.engagement import AuditEvent, InputItem
from bot.store.models import Resident
from bot.store.staff import Organization
from bot.store.themes import Theme
from bot.web.app import create_app
from tests.support.staff import make_user, sign_in
from tests.themes.corpus import corpus


def _items(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        people = [Resident(locale=loc, consent="granted", fields={}, created_at=now, updated_at=now) for loc in "ab"]
        session.add_all(people)
        session.flush()
        for n, (text, locale, theme) in enumerate(corpus(per_language=6)):
            session.add(
                InputItem(
                    ref=6000 + n,
                    kind="feedback",
                    resident_id=people[n % 2].id,
                    text=text,
                    topic=theme,
                    status="received",
                    channel="sms",
                    locale=locale,
                    area="Mission",
                    created_at=now,
                    updated_at=now,
                )
            )


def test_compute_name_keep_and_merge(runtime: Runtime) -> None:
    _items(runtime)
    staff_email = make_user(runtime, "staff")
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
        csrf = sign_in(client, staff_email)
        assert "No themes yet" in client.get("/dashboard/themes").text
        found = client.post("/dashboard/themes/compute", data={"csrf_token": csrf})
        assert "themes found." in found.text
        with runtime.db.transaction() as session:
            shown = stored.listing(session, sharing.visible_to(session, _Staff(), "item"))
        biggest = shown[0]
        assert sum(t.items for t in shown) == 216 and len(biggest.languages) >= 5
        named = client.post(
            f"/dashboard/themes/{biggest.id}/change",
            data={"csrf_token": csrf, "action": "rename", "label": "Bus stops"},
        )
        assert "Named &#39;Bus stops&#39;" in named.text or "Named 'Bus stops'" in named.text
        client.post("/dashboard/themes/compute", data={"csrf_token": csrf})  # the name is kept
        with runtime.db.transaction() as session:
            kept = session.scalars(select(Theme).where(Theme.label == "Bus stops")).one()
            assert kept.confirmed
            other = session.scalars(select(Theme.id).where(Theme.id != kept.id)).first()
        split = client.post(f"/dashboard/themes/{other}/change", data={"csrf_token": csrf, "action": "split"})
        assert "Split in two" in split.text
        with runtime.db.transaction() as session:
            assert len(session.scalars(select(Theme)).all()) == len(shown) + 1
        merged = client.post(
            f"/dashboard/themes/{other}/change", data={"csrf_token": csrf, "action": "merge", "into": str(kept.id)}
        )
        assert "Merged." in merged.text
        page = client.get(f"/dashboard/themes/{kept.id}").text
        assert "Bus stops" in page and "#60" in page
        assert (
            client.post(f"/dashboard/themes/{kept.id}/change", data={"csrf_token": csrf, "action": "x"}).status_code
            == 400
        )
    with runtime.db.transaction() as session:
        actions = [a.action for a in session.scalars(select(AuditEvent))]
    assert actions.count("themes.compute") == 2 and "theme.rename" in actions and "theme.merge" in actions
    assert "theme.split" in actions


def test_partners_see_themes_of_what_is_shared(runtime: Runtime) -> None:
    _items(runtime)
    with runtime.db.transaction() as session:
        stored.compute(session, runtime.clock.now())
    email = make_user(runtime, "partner", "ana@promotoras.example", organization="Eastside Promotoras")
    with runtime.db.transaction() as session:
        org = session.scalars(select(Organization.id)).one()
        sharing.share(session, org, "topic", "rent", runtime.clock.now())
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
        sign_in(client, email)
        page = client.get("/dashboard/themes").text
        assert page.count('href="/dashboard/themes/') >= 1 and "Find the themes again" not in page
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as viewer:
        sign_in(viewer, make_user(runtime, "viewer"))
        assert viewer.get("/dashboard/themes").status_code == 403


class _Staff:
    """Whoever sees everything (staff)."""

    scoped = False
    organization_id = None
