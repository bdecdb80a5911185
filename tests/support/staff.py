"""Test helpers for the staff side: accounts of each role and a browser-like client signed in through /login."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.staff import accounts

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(runtime: Runtime, role: str, email: str | None = None, organization: str | None = None) -> str:
    """Create an account (password PASSWORD); its e-mail."""
    email = email or f"{role}@health.example"
    if role == "partner" and organization is None:
        organization = "Eastside Promotoras"
    with runtime.db.transaction() as session:
        accounts.create_user(session, email, PASSWORD, role, runtime.clock.now(), organization)
    return email


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    found = _CSRF.search(html)
    assert found, "no csrf_token field on the page"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the real form; the session's CSRF token (read from the overview page)."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text), "next": "/dashboard"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    overview = client.get("/dashboard")
    assert overview.status_code == 200, overview.text
    return csrf_of(overview.text)


def api_token(runtime: Runtime, email: str, name: str = "test") -> str:
    """A bearer token for the account."""
    from sqlalchemy import select

    from bot.store.staff import User

    with runtime.db.transaction() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        return accounts.create_token(session, user, name, runtime.clock.now())
