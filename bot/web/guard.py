"""Who may call a route: dashboard pages (session cookie + CSRF on every POST) and API routes (bearer token); the
runtime and the signed-in person a handler works with."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from bot.runtime import Runtime
from bot.staff import accounts
from bot.web.rendering import PRIVATE_HEADERS, error_page

Endpoint = Callable[[Request], Awaitable[Response]]
MAX_FORM_FIELDS = 2000


def runtime_of(request: Request) -> Runtime:
    """The process's runtime, set on the app by create_app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def staff_of(request: Request) -> accounts.Staff:
    """The signed-in person (set by the guard before the endpoint runs)."""
    staff: accounts.Staff = request.state.staff
    return staff


def client_address(request: Request) -> str:
    """The client's address for throttling and the audit log, as proxies.TrustedProxies found it."""
    return request.client.host if request.client else "unknown"


async def read_form(request: Request) -> FormData:
    """The submitted form (no file uploads; bounded number of fields)."""
    return await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)


def page(permission: str) -> Callable[[Endpoint], Endpoint]:
    """Guard a dashboard route: anonymous -> sign-in page, wrong role -> 403, POST without the CSRF token -> 403."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            runtime = runtime_of(request)
            cookie = request.cookies.get(accounts.SESSION_COOKIE)

            def load(session: Session) -> accounts.Staff | None:
                return accounts.session_staff(session, cookie, runtime.clock.now())

            staff = await runtime.db.in_transaction(load)
            if staff is None:
                if request.method in ("GET", "HEAD"):
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                return Response("Sign in first.", status_code=401, headers=PRIVATE_HEADERS)
            request.state.staff = staff
            if not staff.can(permission):
                return error_page(request, 403)
            if request.method == "POST":
                form = await read_form(request)
                if not accounts.same_secret(form.get("csrf_token"), staff.csrf_token):  # type: ignore[arg-type]
                    expired = "This form has expired or did not come from this site. Reload and try again."
                    return error_page(request, 403, expired)
            return await endpoint(request)

        guarded.required_permission = permission  # type: ignore[attr-defined]  # read by the security tests
        return guarded

    return decorate


def api(permission: str) -> Callable[[Endpoint], Endpoint]:
    """Guard a JSON API route: no or bad bearer token -> 401, wrong role -> 403."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            runtime = runtime_of(request)
            header = request.headers.get("authorization")

            def load(session: Session) -> accounts.Staff | None:
                return accounts.token_staff(session, header, runtime.clock.now())

            staff = await runtime.db.in_transaction(load)
            if staff is None:
                return JSONResponse(
                    {"error": "unauthorized", "detail": "Send Authorization: Bearer <token> (loopline users token)."},
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="loopline"', "Cache-Control": "no-store"},
                )
            if not staff.can(permission):
                return JSONResponse(
                    {"error": "forbidden", "detail": f"the {staff.role} role cannot do this"}, status_code=403
                )
            request.state.staff = staff
            return await endpoint(request)

        guarded.required_permission = permission  # type: ignore[attr-defined]  # read by the security tests
        return guarded

    return decorate
