"""Remediation revokes for good: deactivation, reactivation and any password change (dashboard and CLI) end every
session and revoke every API token of the person; admins list and revoke tokens in the dashboard and the CLI,
each revocation audited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.cli import main
from bot.runtime import Runtime
from bot.store.engagement import AuditEvent
from bot.store.staff import ApiToken, User
from tests.support.staff import api_token, make_user, sign_in

NEW_PASSWORD = "an entirely new passphrase"


def _cli(runtime: Runtime, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"LOOPLINE_DATABASE_URL": runtime.settings.database_url})


def _user_id(runtime: Runtime, email: str) -> int:
    with runtime.db.transaction() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def _audit(runtime: Runtime, action: str) -> list[AuditEvent]:
    with runtime.db.transaction() as session:
        found = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))
        session.expunge_all()
        return found


def _me(client: TestClient, token: str) -> int:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code


def _browser(client: TestClient) -> TestClient:
    return TestClient(client.app, base_url="http://testserver")


def _signed_in(client: TestClient, email: str) -> TestClient:
    """Another browser, signed in as the person."""
    theirs = _browser(client)
    sign_in(theirs, email)
    return theirs


def _session_alive(theirs: TestClient) -> bool:
    return theirs.get("/dashboard", follow_redirects=False).status_code == 200


@pytest.fixture
def admin(client: TestClient, runtime: Runtime) -> str:
    """The admin's CSRF token; the client is signed in as admin@health.example."""
    return sign_in(client, make_user(runtime, "admin"))


def _set_active(client: TestClient, admin: str, user_id: int, active: bool) -> None:
    done = client.post(
        f"/dashboard/users/{user_id}/active",
        data={"active": "1" if active else "0", "csrf_token": admin},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


def test_dashboard_deactivation_revokes_for_good(client: TestClient, runtime: Runtime, admin: str) -> None:
    email = make_user(runtime, "staff")
    target = _user_id(runtime, email)
    theirs, token = _signed_in(client, email), api_token(runtime, email, "reports")
    assert _me(client, token) == 200
    _set_active(client, admin, target, False)
    assert _me(client, token) == 401 and not _session_alive(theirs)
    _set_active(client, admin, target, True)
    assert _me(client, token) == 401, "reactivation brought an old token back"
    assert not _session_alive(theirs)
    sign_in(_browser(client), email)  # the person themselves is back
    (deactivated,) = _audit(runtime, "user.deactivate")
    assert deactivated.actor == "user:admin@health.example"
    assert deactivated.details["revoked_tokens"] == [token[:10]]


def test_cli_deactivation_revokes_for_good(client: TestClient, runtime: Runtime, admin: str) -> None:
    email = make_user(runtime, "staff")
    theirs, token = _signed_in(client, email), api_token(runtime, email)
    assert _me(client, token) == 200 and _session_alive(theirs)
    result = _cli(runtime, "users", "deactivate", "--email", email)
    assert result.exit_code == 0, result.output
    assert _me(client, token) == 401 and not _session_alive(theirs)
    _set_active(client, admin, _user_id(runtime, email), True)
    assert _me(client, token) == 401, "reactivation brought an old token back"
    assert not _session_alive(theirs), "reactivation brought an old session back"
    (deactivated,) = _audit(runtime, "user.deactivate")
    assert deactivated.actor.startswith("cli:") and deactivated.details["revoked_tokens"] == [token[:10]]


def test_cli_password_change_ends_sessions_and_tokens(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    email = make_user(runtime, "staff")
    theirs, token = _signed_in(client, email), api_token(runtime, email)
    secret = tmp_path / "password.txt"
    secret.write_text(NEW_PASSWORD + "\n", encoding="utf-8")
    result = _cli(runtime, "users", "password", "--email", email, "--password-file", str(secret))
    assert result.exit_code == 0, result.output
    assert theirs.get("/dashboard", follow_redirects=False).headers["location"].startswith("/login")
    assert _me(client, token) == 401
    sign_in(_browser(client), email, NEW_PASSWORD)
    (changed,) = _audit(runtime, "user.password")
    assert changed.actor.startswith("cli:") and changed.details["revoked_tokens"] == [token[:10]]
    assert NEW_PASSWORD not in str(changed.details)


def test_dashboard_password_reset_ends_sessions_and_tokens(client: TestClient, runtime: Runtime, admin: str) -> None:
    email = make_user(runtime, "viewer")
    theirs, token = _signed_in(client, email), api_token(runtime, email)
    done = client.post(
        f"/dashboard/users/{_user_id(runtime, email)}/password", data={"password": NEW_PASSWORD, "csrf_token": admin}
    )
    assert done.status_code == 200 and "signed out everywhere" in done.text
    assert theirs.get("/dashboard", follow_redirects=False).headers["location"].startswith("/login")
    assert _me(client, token) == 401
    sign_in(_browser(client), email, NEW_PASSWORD)
    (changed,) = _audit(runtime, "user.password")
    assert changed.details["revoked_tokens"] == [token[:10]]


def test_admins_list_and_revoke_tokens_in_dashboard_and_cli(client: TestClient, runtime: Runtime, admin: str) -> None:
    email = make_user(runtime, "staff")
    target = _user_id(runtime, email)
    by_page, by_name, by_id, kept = (api_token(runtime, email, name) for name in ("page", "nightly", "adhoc", "keep"))
    listing = client.get(f"/dashboard/users/{target}/tokens").text
    assert all(name in listing for name in ("page", "nightly", "adhoc", "keep"))
    with runtime.db.transaction() as session:
        ids = {
            name: id_
            for name, id_ in session.execute(select(ApiToken.name, ApiToken.id).where(ApiToken.user_id == target))
        }
    assert f"/dashboard/users/{target}/tokens/{ids['page']}/revoke" in listing
    revoked = client.post(
        f"/dashboard/users/{target}/tokens/{ids['page']}/revoke", data={"csrf_token": admin}, follow_redirects=False
    )
    assert revoked.status_code == 303 and _me(client, by_page) == 401

    assert _me(client, by_name) == 200  # a use the listing shows
    listed = _cli(runtime, "users", "tokens", "--email", email.upper())
    assert listed.exit_code == 0, listed.output
    rows = {line.split("\t")[1]: line for line in listed.stdout.splitlines()}
    assert set(rows) == {"page", "nightly", "adhoc", "keep"}
    assert rows["page"].startswith(f"{ids['page']}\t") and "revoked" in rows["page"]
    assert "last used never" in rows["keep"] and "last used never" not in rows["nightly"]
    assert by_name not in listed.stdout and by_name[:10] in rows["nightly"]

    named = _cli(runtime, "users", "revoke-token", "--email", email, "--name", "nightly")
    assert named.exit_code == 0, named.output
    numbered = _cli(runtime, "users", "revoke-token", "--email", email, "--id", str(ids["adhoc"]))
    assert numbered.exit_code == 0, numbered.output
    assert (_me(client, by_name), _me(client, by_id), _me(client, kept)) == (401, 401, 200)

    again = _cli(runtime, "users", "revoke-token", "--email", email, "--name", "nightly")
    assert again.exit_code == 1 and "no live token" in again.stderr
    other = _cli(runtime, "users", "revoke-token", "--email", "admin@health.example", "--id", str(ids["keep"]))
    assert other.exit_code == 1 and _me(client, kept) == 200  # a token is revoked only through its owner
    neither = _cli(runtime, "users", "revoke-token", "--email", email)
    assert neither.exit_code == 2

    entries = _audit(runtime, "token.revoke")
    assert [(e.details["name"], e.actor.split(":")[0]) for e in entries] == [
        ("page", "user"),
        ("nightly", "cli"),
        ("adhoc", "cli"),
    ]
    assert all(e.subject == f"user:{target}" for e in entries)
    assert re.fullmatch(r"ll_\S{7}", entries[1].details["prefix"])
