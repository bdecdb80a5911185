"""Sign-in, sign-out, sessions, CSRF and throttling, through the real routes on a real database."""

from __future__ import annotations

from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.staff import accounts
from bot.store.engagement import AuditEvent
from bot.store.staff import StaffSession
from tests.support.staff import PASSWORD, csrf_of, make_user, sign_in


def test_anonymous_is_sent_to_sign_in_and_back(client: TestClient, runtime: Runtime) -> None:
    response = client.get("/dashboard?since=today", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fdashboard%3Fsince%3Dtoday"
    email = make_user(runtime, "staff")
    form = client.get(response.headers["location"])
    assert 'value="/dashboard?since=today"' in form.text
    signed = client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": "/dashboard?since=today"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/dashboard?since=today"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")


def test_next_cannot_leave_the_site(client: TestClient, runtime: Runtime) -> None:
    email = make_user(runtime, "viewer")
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        form = client.get("/login")
        signed = client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": target},
            follow_redirects=False,
        )
        assert signed.headers["location"] == "/dashboard"


def test_wrong_password_and_unknown_user_get_the_same_answer(client: TestClient, runtime: Runtime) -> None:
    email = make_user(runtime, "staff")
    answers = []
    for who, password in ((email, "not the password!"), ("nobody@health.example", PASSWORD)):
        form = client.get("/login")
        response = client.post("/login", data={"email": who, "password": password, "csrf_token": csrf_of(form.text)})
        assert response.status_code == 401
        answers.append("do not match an active account" in response.text)
    assert answers == [True, True]


def test_sign_in_needs_the_form_token(client: TestClient, runtime: Runtime) -> None:
    email = make_user(runtime, "admin")
    client.get("/login")
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 403
    fresh = TestClient(client.app)
    response = fresh.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": "x" * 43})
    assert response.status_code == 403


def test_throttled_after_repeated_failures(client: TestClient, runtime: Runtime) -> None:
    email = make_user(runtime, "staff")
    for _ in range(accounts.EMAIL_FAILURES_ALLOWED):
        form = client.get("/login")
        client.post("/login", data={"email": email, "password": "wrong password!", "csrf_token": csrf_of(form.text)})
    form = client.get("/login")
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text
    with runtime.db.transaction() as session:
        failures = session.scalar(select(func.count()).where(AuditEvent.action == "login.failed"))
    assert failures == accounts.EMAIL_FAILURES_ALLOWED + 1


def test_new_session_at_sign_in_and_none_after_sign_out(client: TestClient, runtime: Runtime) -> None:
    email = make_user(runtime, "staff")
    client.cookies.set(accounts.SESSION_COOKIE, "planted-by-an-attacker", domain="testserver.local")
    csrf = sign_in(client, email)
    assert client.cookies.get(accounts.SESSION_COOKIE) != "planted-by-an-attacker"
    first = client.cookies.get(accounts.SESSION_COOKIE)
    csrf_again = sign_in(client, email)
    assert client.cookies.get(accounts.SESSION_COOKIE) != first and csrf_again != csrf
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 1  # the old one was ended
    stolen = client.cookies.get(accounts.SESSION_COOKIE)
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    out = client.post("/logout", data={"csrf_token": csrf_again}, follow_redirects=False)
    assert out.status_code == 303
    replay = TestClient(client.app)
    replay.cookies.set(accounts.SESSION_COOKIE, stolen or "")
    assert replay.get("/dashboard", follow_redirects=False).status_code == 303


def test_overview_counts(client: TestClient, runtime: Runtime, chat) -> None:  # type: ignore[no-untyped-def]
    from bot.messages import Channel

    resident = chat(Channel.SMS, "+14155550123")
    resident.send("hola")
    resident.send("1")
    email = make_user(runtime, "viewer")
    sign_in(client, email)
    page = client.get("/dashboard").text
    assert 'id="messages-in">2<' in page
    assert "+14155550123" not in page
