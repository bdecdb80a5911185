"""Admin pages through the real app: accounts (create, role, deactivate, password), organizations, API tokens and
the audit log, each change audited; nobody but admins may open them."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.staff import audit
from bot.store.engagement import AuditEvent
from bot.store.staff import Organization, User
from tests.support.staff import PASSWORD, api_token, make_user, sign_in

NEW_PASSWORD = "a much longer new passphrase"


def user_id(runtime: Runtime, email: str) -> int:
    with runtime.db.transaction() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def actions(runtime: Runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def admin(client: TestClient, runtime: Runtime) -> str:
    """The admin's CSRF token; the client is signed in as admin@health.example."""
    return sign_in(client, make_user(runtime, "admin"))


def fresh(client: TestClient) -> TestClient:
    """Another browser on the same app."""
    return TestClient(client.app, base_url="http://testserver")


@pytest.mark.parametrize("role", ["staff", "partner", "viewer"])
def test_only_admins_may_open_the_admin_pages(client: TestClient, runtime: Runtime, role: str) -> None:
    target = user_id(runtime, make_user(runtime, "viewer", "someone@health.example"))
    csrf = sign_in(client, make_user(runtime, role))
    for path in ("/dashboard/users", f"/dashboard/users/{target}/tokens", "/dashboard/audit", "/dashboard/audit.csv"):
        assert client.get(path).status_code == 403, path
    posts = {
        "/dashboard/users": {"email": "x@health.example", "role": "admin", "password": NEW_PASSWORD},
        f"/dashboard/users/{target}/role": {"role": "admin"},
        f"/dashboard/users/{target}/active": {"active": "0"},
        f"/dashboard/users/{target}/tokens": {"name": "mine now"},
        "/dashboard/organizations": {"name": "Rogue"},
    }
    for path, form in posts.items():
        assert client.post(path, data={**form, "csrf_token": csrf}).status_code == 403, path
    assert "Users" not in re.findall(r"<nav.*?</nav>", client.get("/dashboard").text, re.S)[0]
    assert actions(runtime) == ["login"]


def test_create_a_user_then_sign_in_as_them(client: TestClient, runtime: Runtime, admin: str) -> None:
    page = client.get("/dashboard/users")
    assert page.status_code == 200 and "admin@health.example" in page.text
    for field in ("new-email", "new-role", "new-organization", "new-password"):
        assert f'<label for="{field}">' in page.text
    short = client.post(
        "/dashboard/users",
        data={"email": "ana@health.example", "role": "staff", "password": "short", "csrf_token": admin},
    )
    assert short.status_code == 400 and "at least 12 characters" in short.text
    assert 'value="ana@health.example"' in short.text  # what was typed is kept
    created = client.post(
        "/dashboard/users",
        data={"email": "Ana@Health.example", "role": "staff", "password": NEW_PASSWORD, "csrf_token": admin},
        follow_redirects=False,
    )
    assert created.status_code == 303
    assert "Created ana@health.example" in client.get(created.headers["location"]).text
    again = client.post(
        "/dashboard/users",
        data={"email": "ana@health.example", "role": "viewer", "password": NEW_PASSWORD, "csrf_token": admin},
    )
    assert again.status_code == 400 and "already exists" in again.text
    partnerless = client.post(
        "/dashboard/users",
        data={"email": "p@health.example", "role": "partner", "password": NEW_PASSWORD, "csrf_token": admin},
    )
    assert partnerless.status_code == 400 and "organization" in partnerless.text
    ana = fresh(client)
    sign_in(ana, "ana@health.example", NEW_PASSWORD)
    assert ana.get("/dashboard/users").status_code == 403
    assert actions(runtime).count("user.create") == 1
    log = client.get("/dashboard/audit?action=user.create").text
    assert "user:admin@health.example" in log and "ana@health.example" in log


def test_deactivating_ends_sessions_and_tokens_at_once(client: TestClient, runtime: Runtime, admin: str) -> None:
    email = make_user(runtime, "staff")
    target = user_id(runtime, email)
    theirs = fresh(client)
    sign_in(theirs, email)
    token = api_token(runtime, email)
    assert theirs.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    off = client.post(
        f"/dashboard/users/{target}/active", data={"active": "0", "csrf_token": admin}, follow_redirects=False
    )
    assert off.status_code == 303
    assert theirs.get("/dashboard", follow_redirects=False).status_code == 303  # back to the sign-in page
    assert theirs.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "Deactivated" in client.get("/dashboard/users").text
    other = fresh(client)
    form = other.get("/login")
    refused = other.post(
        "/login",
        data={
            "email": email,
            "password": PASSWORD,
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1),
        },  # type: ignore[union-attr]
    )
    assert refused.status_code == 401
    on = client.post(
        f"/dashboard/users/{target}/active", data={"active": "1", "csrf_token": admin}, follow_redirects=False
    )
    assert on.status_code == 303
    sign_in(other, email)
    assert theirs.get("/dashboard", follow_redirects=False).status_code == 303  # the old session stays ended
    assert [a for a in actions(runtime) if a.startswith("user.")] == ["user.deactivate", "user.reactivate"]


def test_admins_cannot_lock_themselves_out(client: TestClient, runtime: Runtime, admin: str) -> None:
    me = user_id(runtime, "admin@health.example")
    off = client.post(f"/dashboard/users/{me}/active", data={"active": "0", "csrf_token": admin})
    assert off.status_code == 400 and "cannot deactivate your own account" in off.text
    demoted = client.post(f"/dashboard/users/{me}/role", data={"role": "viewer", "csrf_token": admin})
    assert demoted.status_code == 400 and "own admin role" in demoted.text
    assert client.get("/dashboard/users").status_code == 200
    with runtime.db.transaction() as session:
        user = session.get(User, me)
        assert user is not None and user.active and user.role == "admin"
    assert [a for a in actions(runtime) if a.startswith("user.")] == []


def test_roles_and_organizations(client: TestClient, runtime: Runtime, admin: str) -> None:
    target = user_id(runtime, make_user(runtime, "viewer"))
    made = client.post("/dashboard/organizations", data={"name": "  Westside  Clinic ", "csrf_token": admin})
    assert made.status_code == 200 and "Created the organization Westside Clinic" in made.text
    assert (
        "already exists"
        in client.post("/dashboard/organizations", data={"name": "Westside Clinic", "csrf_token": admin}).text
    )
    assert client.post("/dashboard/organizations", data={"name": "  ", "csrf_token": admin}).status_code == 400
    with runtime.db.transaction() as session:
        org = session.scalars(select(Organization)).one()
    no_org = client.post(f"/dashboard/users/{target}/role", data={"role": "partner", "csrf_token": admin})
    assert no_org.status_code == 400 and "organization" in no_org.text
    bad_org = client.post(
        f"/dashboard/users/{target}/role", data={"role": "partner", "organization": "999", "csrf_token": admin}
    )
    assert bad_org.status_code == 400
    bad_role = client.post(f"/dashboard/users/{target}/role", data={"role": "root", "csrf_token": admin})
    assert bad_role.status_code == 400
    moved = client.post(
        f"/dashboard/users/{target}/role", data={"role": "partner", "organization": str(org.id), "csrf_token": admin}
    )
    assert moved.status_code == 200 and "viewer@health.example is now partner" in moved.text
    row = re.search(rf'<tr id="user-{target}".*?</tr>', moved.text, re.S).group(0)  # type: ignore[union-attr]
    assert ">partner<" in row and "Westside Clinic" in row
    assert actions(runtime)[-2:] == ["organization.create", "user.role"]
    assert client.post("/dashboard/users/999999/role", data={"role": "staff", "csrf_token": admin}).status_code == 404


def test_reset_password_signs_them_out(client: TestClient, runtime: Runtime, admin: str) -> None:
    email = make_user(runtime, "staff")
    theirs = fresh(client)
    sign_in(theirs, email)
    target = user_id(runtime, email)
    weak = client.post(f"/dashboard/users/{target}/password", data={"password": "tooshort", "csrf_token": admin})
    assert weak.status_code == 400
    done = client.post(f"/dashboard/users/{target}/password", data={"password": NEW_PASSWORD, "csrf_token": admin})
    assert done.status_code == 200 and "signed out everywhere" in done.text
    assert theirs.get("/dashboard", follow_redirects=False).status_code == 303
    sign_in(fresh(client), email, NEW_PASSWORD)
    assert "user.password" in actions(runtime)
    assert NEW_PASSWORD not in str(actions(runtime)) and NEW_PASSWORD not in client.get("/dashboard/audit").text


def test_tokens_are_shown_once_and_can_be_revoked(client: TestClient, runtime: Runtime, admin: str) -> None:
    target = user_id(runtime, make_user(runtime, "viewer"))
    empty = client.get(f"/dashboard/users/{target}/tokens")
    assert empty.status_code == 200 and "No tokens yet" in empty.text
    created = client.post(f"/dashboard/users/{target}/tokens", data={"name": "monthly report", "csrf_token": admin})
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-secret" value="(ll_[^"]+)"', created.text).group(1)  # type: ignore[union-attr]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["email"] == "viewer@health.example"
    listing = client.get(f"/dashboard/users/{target}/tokens").text
    assert secret not in listing and secret[:10] in listing and "monthly report" in listing
    token_id = re.search(rf"/dashboard/users/{target}/tokens/(\d+)/revoke", listing).group(1)  # type: ignore[union-attr]
    revoked = client.post(
        f"/dashboard/users/{target}/tokens/{token_id}/revoke", data={"csrf_token": admin}, follow_redirects=False
    )
    assert revoked.status_code == 303
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert "Revoked" in client.get(f"/dashboard/users/{target}/tokens").text
    other = user_id(runtime, "admin@health.example")
    assert (
        client.post(f"/dashboard/users/{other}/tokens/{token_id}/revoke", data={"csrf_token": admin}).status_code == 404
    )
    assert client.get("/dashboard/users/999999/tokens").status_code == 404
    assert client.get("/dashboard/users/99999999999999999999/tokens").status_code == 404
    log = client.get("/dashboard/audit?action=token.").text
    assert "token.create" in log and "token.revoke" in log and secret not in log


def test_audit_log_filters_pages_and_csv(client: TestClient, runtime: Runtime, admin: str) -> None:
    with runtime.db.transaction() as session:
        now = runtime.clock.now()
        for n in range(60):
            audit.record(session, "user:ana@health.example", "poll.open", f"poll:p{n}", now - timedelta(days=10), n=n)
        audit.record(session, "cli:root", "user.create", "=cmd|' /C calc'!A0", now, email="x@health.example")
    first = client.get("/dashboard/audit")
    assert first.status_code == 200
    assert first.text.index("user.create") < first.text.index("<code>login</code>") < first.text.index("poll.open")
    assert first.text.count("<code>poll.open</code>") == 48  # 50 a page: the two newest and 48 of the 60
    older = unescape(re.search(r'href="(/dashboard/audit\?[^"]+)" rel="next"', first.text).group(1))  # type: ignore[union-attr]
    second = client.get(older)
    assert second.text.count("<code>poll.open</code>") == 12 and 'rel="next"' not in second.text
    assert client.get("/dashboard/audit?actor=ANA@health").text.count("<code>poll.open</code>") == 50
    assert "<code>poll.open</code>" not in client.get("/dashboard/audit?action=user.").text
    day = (runtime.clock.now() - timedelta(days=10)).date().isoformat()
    dated = client.get(f"/dashboard/audit?since={day}&until={day}")
    assert "<code>user.create</code>" not in dated.text and "<code>poll.open</code>" in dated.text
    exported = client.get("/dashboard/audit.csv?action=poll.")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert len(rows) == 60 and rows[0]["subject"] == "poll:p59"
    everything = list(csv.DictReader(io.StringIO(client.get("/dashboard/audit.csv").text.lstrip("\ufeff"))))
    assert everything[0]["subject"] == "'=cmd|' /C calc'!A0"  # a spreadsheet shows it, never runs it


@pytest.mark.parametrize(
    "query",
    [
        "before=abc",
        "before=99999999999999999999",
        "before=-1",
        "since=2026-99-99",
        "until=tomorrow",
        "since=0001-01-01",
        "until=9999-12-31",
        "actor=%00",
        "action=" + "x" * 200,
        "unknown=1",
    ],
)
def test_audit_log_refuses_bad_filters(client: TestClient, runtime: Runtime, admin: str, query: str) -> None:
    page = client.get(f"/dashboard/audit?{query}")
    assert page.status_code == 400 and 'role="alert"' in page.text
    assert client.get(f"/dashboard/audit.csv?{query}").status_code == 400


def test_audit_days_are_the_programs_days(runtime: Runtime) -> None:
    """'From 2 March' in Los Angeles starts at 08:00 UTC: an action at 07:00 UTC was on the 1st there."""
    from datetime import UTC, date, datetime

    from bot.web.dashboard.audit import AuditFilters

    with runtime.db.transaction() as session:
        for hour in (7, 9):
            audit.record(session, "cli:ana", "poll.open", f"poll:h{hour}", datetime(2026, 3, 2, hour, tzinfo=UTC))
    with runtime.db.transaction() as session:
        local = AuditFilters(since=date(2026, 3, 2), zone="America/Los_Angeles")
        in_utc = AuditFilters(since=date(2026, 3, 2))
        assert [e.subject for e in session.scalars(local.query(session))] == ["poll:h9"]
        assert sorted(e.subject for e in session.scalars(in_utc.query(session))) == ["poll:h7", "poll:h9"]
