"""Sign-in and sign-out pages: throttled, CSRF-protected, and a new session id at every sign-in."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.staff import accounts, audit
from bot.web.guard import client_address, page, read_form, runtime_of
from bot.web.rendering import render


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, host or protocol-relative URL) may follow a sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/dashboard"


def _secure(request: Request) -> bool:
    public = runtime_of(request).settings.public_url or ""
    return public.startswith("https://") or request.url.scheme == "https"


def _login_page(request: Request, error: str = "", status_code: int = 200, email: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "dashboard/login.html",
        status_code=status_code,
        title="Sign in",
        login_csrf=token,
        error=error,
        email=email,
        next=_safe_next(request.query_params.get("next")),
    )
    response.set_cookie(
        accounts.LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


async def login_form(request: Request) -> Response:
    """GET /login."""
    return _login_page(request)


async def login(request: Request) -> Response:
    """POST /login: check the CSRF pair, the throttle and the password; start a fresh session."""
    runtime = runtime_of(request)
    form = await read_form(request)
    email = str(form.get("email") or "")[:254]
    password = str(form.get("password") or "")[:1024]
    if not accounts.same_secret(str(form.get("csrf_token") or ""), request.cookies.get(accounts.LOGIN_CSRF_COOKIE, "")):
        return _login_page(request, "The sign-in form expired. Please try again.", 403, email)
    old = request.cookies.get(accounts.SESSION_COOKIE)
    client = client_address(request)

    def attempt(session: Session) -> str:
        now = runtime.clock.now()
        try:
            user = accounts.authenticate(session, email, password, client, now)
        except accounts.AuthError as exc:
            audit.record(
                session, f"anonymous:{client}", "login.failed", f"email:{accounts.normalise_email(email)}", now
            )
            return "!" + str(exc)
        audit.record(session, f"user:{user.email}", "login", f"user:{user.id}", now)
        return accounts.start_session(session, user, now, replacing=old)

    outcome = await runtime.db.in_transaction(attempt)
    if outcome.startswith("!"):
        status = 429 if "Too many" in outcome else 401
        return _login_page(request, outcome[1:], status, email)
    target = _safe_next(str(form.get("next") or ""))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        accounts.SESSION_COOKIE,
        outcome,
        max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(accounts.LOGIN_CSRF_COOKIE)
    return response


@page("view")
async def logout(request: Request) -> Response:
    """POST /logout: end the session on the server and in the browser."""
    runtime = runtime_of(request)
    cookie = request.cookies.get(accounts.SESSION_COOKIE)
    staff = request.state.staff

    def end(session: Session) -> None:
        accounts.end_session(session, cookie)
        audit.record(session, staff.actor, "logout", f"user:{staff.user_id}", runtime.clock.now())

    await runtime.db.in_transaction(end)
    response = RedirectResponse("/login?done=signed-out", status_code=303)
    response.delete_cookie(accounts.SESSION_COOKIE, path="/")
    return response
