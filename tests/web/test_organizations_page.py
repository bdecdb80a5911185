"""An organization's page: staff share polls, topics, audiences and items with a partner; partners see their own."""

from __future__ import annotations

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.store.engagement import AuditEvent
from bot.store.staff import Organization
from tests.support.staff import make_user, sign_in


def _org_id(runtime: Runtime, name: str) -> int:
    with runtime.db.transaction() as session:
        return session.scalars(select(Organization.id).where(Organization.name == name)).one()


def test_staff_share_an_audience_that_the_partner_can_then_use(runtime: Runtime) -> None:
    from bot.web.app import create_app

    partner = make_user(runtime, "partner", organization="Eastside Promotoras")
    make_user(runtime, "partner", "other@partner.example", organization="Westside Clinic")
    staff = make_user(runtime, "staff")
    org, other = _org_id(runtime, "Eastside Promotoras"), _org_id(runtime, "Westside Clinic")
    app = create_app(runtime, deliver=False)
    with TestClient(app) as staff_client, TestClient(app) as partner_client:
        csrf = sign_in(staff_client, staff)
        bad = staff_client.post(
            f"/dashboard/organizations/{org}/share",
            data={"csrf_token": csrf, "kind": "audience", "subject": "language=klingon"},
        )
        assert bad.status_code == 400 and "unknown languages" in bad.text
        missing = staff_client.post(
            f"/dashboard/organizations/{org}/share", data={"csrf_token": csrf, "kind": "poll", "subject": "nope"}
        )
        assert missing.status_code == 400 and "There is no poll" in missing.text
        shared = staff_client.post(
            f"/dashboard/organizations/{org}/share",
            data={"csrf_token": csrf, "kind": "audience", "subject": "  language=es   area=94110 "},
            follow_redirects=False,
        )
        assert shared.status_code == 303
        page = staff_client.get(f"/dashboard/organizations/{org}").text
        assert "language=es area=94110" in page and "Stop sharing" in page

        partner_csrf = sign_in(partner_client, partner)
        own = partner_client.get(f"/dashboard/organizations/{org}")
        assert own.status_code == 200 and "language=es area=94110" in own.text and "Stop sharing" not in own.text
        assert partner_client.get(f"/dashboard/organizations/{other}").status_code == 404
        compose = partner_client.get("/dashboard/broadcasts/new").text
        assert 'value="language=es area=94110"' in compose
        refused = partner_client.post(
            f"/dashboard/organizations/{org}/share",
            data={"csrf_token": partner_csrf, "kind": "audience", "subject": "language=en"},
        )
        assert refused.status_code == 403

        stopped = staff_client.post(
            f"/dashboard/organizations/{org}/unshare",
            data={"csrf_token": csrf, "kind": "audience", "subject": "language=es area=94110"},
            follow_redirects=False,
        )
        assert stopped.status_code == 303
        assert 'value="language=es area=94110"' not in partner_client.get("/dashboard/broadcasts/new").text
    with runtime.db.transaction() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("organization.%"))))
    assert actions == ["organization.share", "organization.unshare"]
