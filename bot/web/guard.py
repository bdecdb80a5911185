"""Who may call a route: dashboard pages (session cookie + CSRF on every POST) and API routes (bearer token)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from bot.runtime import Runtime
from bot.staff import accounts

Endpoint = Callable[[Request], Awaitable[Response]]
TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
MAX_FORM_FIELDS = 2000

# Dashboard navigation: (path, label, permission needed to see it).
NAV = (
    ("/dashboard", "Overview", "view"),
    ("/dashboard/polls", "Polls", "view"),
    ("/dashboard/events", "Events", "view"),
    ("/dashboard/broadcasts", "Broadcasts", "broadcast"),
    ("/dashboard/inbox", "Inbox", "view"),
    ("/dashboard/decisions", "Decisions", "view"),
    ("/dashboard/users", "Users", "users"),
    ("/dashboard/audit", "Audit log", "audit"),
)


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


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A dashboard page: the template with the signed-in person, their CSRF token and their navigation."""
    staff: accounts.Staff | None = getattr(request.state, "staff", None)
    context.update(
        staff=staff,
        csrf_token=staff.csrf_token if staff else "",
        nav=[(path, label) for path, label, need in NAV if staff and staff.can(need)],
        current_path=request.url.path,
        program=runtime_of(request).settings.program_name,
        notice=context.get("notice") or request.query_params.get("done", "")[:200],
    )
    return templates.TemplateResponse(request, template, context, status_code=status_code, headers=PRIVATE_HEADERS)


def forbidden(request: Request, why: str = "Your role does not allow this.") -> Response:
    """403 as a page."""
    return render(request, "dashboard/error.html", status_code=403, title="Not allowed", message=why)


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
                return forbidden(request)
            if request.method == "POST":
                form = await read_form(request)
                if not accounts.same_secret(form.get("csrf_token"), staff.csrf_token):  # type: ignore[arg-type]
                    return forbidden(
                        request, "This form has expired or did not come from this site. Reload and try again."
                    )
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
