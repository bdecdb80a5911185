"""Admin pages: staff accounts (create, role, deactivate, password), organizations, API tokens; the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.ids import record_id
from bot.staff import accounts, audit
from bot.store.staff import ROLES, ApiToken, Organization, User
from bot.web.dashboard import audit as audit_log
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page, render


class AdminError(ValueError):
    """An admin action that cannot be done, with a message fit to show."""


def _done(path: str, message: str) -> Response:
    return RedirectResponse(f"{path}?{urlencode({'done': message})}", status_code=303)


def _user_id(request: Request) -> int | None:
    raw = request.path_params.get("user_id")
    return raw if isinstance(raw, int) else None


def _field(form: Any, name: str, limit: int = 254) -> str:
    return str(form.get(name) or "").strip()[:limit]


def _organization(session: Session, raw: str) -> int | None:
    """The organization chosen in a form (its id, or empty for none); AdminError when unknown."""
    if not raw:
        return None
    chosen = record_id(raw)
    if chosen is None or session.get(Organization, chosen) is None:
        raise AdminError("Choose an organization from the list.")
    return chosen


def users_context(session: Session) -> dict[str, Any]:
    """Every account and organization, for the users page."""
    organizations = list(session.scalars(select(Organization).order_by(Organization.name)))
    names = {org.id: org.name for org in organizations}
    members = dict(
        session.execute(
            select(User.organization_id, func.count())
            .where(User.organization_id.is_not(None))
            .group_by(User.organization_id)
        ).all()
    )
    users = [
        {
            "id": user.id,
            "email": user.email,
            "role": user.role,
            "organization_id": user.organization_id,
            "organization": names.get(user.organization_id or 0, ""),
            "active": user.active,
            "last_login_at": user.last_login_at,
        }
        for user in session.scalars(select(User).order_by(User.email))
    ]
    return {
        "users": users,
        "organizations": [
            {"id": o.id, "name": o.name, "slug": o.slug, "members": members.get(o.id, 0)} for o in organizations
        ],
        "roles": ROLES,
    }


async def _users_page(request: Request, error: str = "", status_code: int = 200, **form: str) -> Response:
    runtime = runtime_of(request)

    def load(session: Session) -> dict[str, Any]:
        return users_context(session)

    context = await runtime.db.in_transaction(load)
    return render(
        request, "dashboard/users.html", status_code=status_code, title="Users", error=error, form=form, **context
    )


@page("users")
async def users_page(request: Request) -> Response:
    """GET /dashboard/users."""
    return await _users_page(request)


@page("users")
async def create_user(request: Request) -> Response:
    """POST /dashboard/users: a new account with an initial password (at least 12 characters)."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    email, role = _field(form, "email"), _field(form, "role", 16)
    org_raw, password = _field(form, "organization", 12), str(form.get("password") or "")[:1025]

    def create() -> str:
        now = runtime.clock.now()
        with runtime.db.transaction() as session:
            org_id = _organization(session, org_raw)
            org = session.get(Organization, org_id) if org_id else None
            user = accounts.create_user(session, email, password, role, now, org.name if org else None)
            user.organization_id = org_id
            audit.record(session, staff.actor, "user.create", f"user:{user.id}", now, email=user.email, role=role)
            return user.email

    try:
        created = await runtime.db.run(create)
    except (AdminError, accounts.AuthError) as exc:
        return await _users_page(request, str(exc), 400, email=email, role=role, organization=org_raw)
    return _done("/dashboard/users", f"Created {created}.")


@dataclass(frozen=True)
class _Change:
    """What an admin asked to change about one account."""

    user_id: int
    role: str | None = None
    organization: str | None = None
    active: bool | None = None
    password: str | None = None


def apply_change(session: Session, staff: accounts.Staff, change: _Change, now: datetime) -> str:
    """Carry out one change (audited); the notice to show. Admins cannot demote or deactivate themselves."""
    user = session.get(User, change.user_id)
    if user is None:
        raise LookupError(change.user_id)
    subject = f"user:{user.id}"
    if change.role is not None:
        if change.role not in ROLES:
            raise AdminError(f"The role must be one of: {', '.join(ROLES)}.")
        org_id = _organization(session, change.organization or "")
        if user.id == staff.user_id and change.role != "admin":
            raise AdminError("You cannot remove your own admin role; ask another admin.")
        if change.role == "partner" and org_id is None:
            raise AdminError("A partner belongs to an organization: choose one.")
        before = (user.role, user.organization_id)
        user.role, user.organization_id = change.role, org_id
        if before != (user.role, user.organization_id):
            audit.record(
                session, staff.actor, "user.role", subject, now, email=user.email, role=user.role, organization=org_id
            )
        return f"{user.email} is now {user.role}."
    if change.active is not None:
        if user.id == staff.user_id and not change.active:
            raise AdminError("You cannot deactivate your own account; ask another admin.")
        if accounts.set_active(session, user, change.active, staff.actor, now):
            return f"{user.email} is {'active' if user.active else 'deactivated'}; their sessions and tokens ended."
        return f"{user.email} is {'active' if user.active else 'deactivated'}."
    if change.password is not None:
        accounts.set_password(session, user, change.password, staff.actor, now)
        return f"New password set for {user.email}; they were signed out everywhere and their tokens revoked."
    raise AdminError("Nothing to change.")


async def _change(request: Request, change: _Change) -> Response:
    runtime, staff = runtime_of(request), staff_of(request)

    def run(session: Session) -> str:
        return apply_change(session, staff, change, runtime.clock.now())

    try:
        notice = await runtime.db.in_transaction(run)
    except LookupError:
        return error_page(request, 404, "There is no such user.", title="Not found")
    except (AdminError, accounts.AuthError) as exc:
        return await _users_page(request, str(exc), 400)
    return _done("/dashboard/users", notice)


@page("users")
async def change_role(request: Request) -> Response:
    """POST /dashboard/users/{id}/role: role and organization."""
    user_id = _user_id(request)
    if user_id is None:
        return error_page(request, 404, "There is no such user.")
    form = await read_form(request)
    return await _change(
        request, _Change(user_id, role=_field(form, "role", 16), organization=_field(form, "organization", 12))
    )


@page("users")
async def change_active(request: Request) -> Response:
    """POST /dashboard/users/{id}/active: deactivate (active=0) or reactivate (active=1)."""
    user_id = _user_id(request)
    if user_id is None:
        return error_page(request, 404, "There is no such user.")
    form = await read_form(request)
    wanted = _field(form, "active", 1)
    if wanted not in ("0", "1"):
        return await _users_page(request, "Choose to deactivate or reactivate.", 400)
    return await _change(request, _Change(user_id, active=wanted == "1"))


@page("users")
async def reset_password(request: Request) -> Response:
    """POST /dashboard/users/{id}/password: a new password (the person is signed out everywhere)."""
    user_id = _user_id(request)
    if user_id is None:
        return error_page(request, 404, "There is no such user.")
    form = await read_form(request)
    return await _change(request, _Change(user_id, password=str(form.get("password") or "")[:1025]))


@page("users")
async def create_organization(request: Request) -> Response:
    """POST /dashboard/organizations: a department or partner organization."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    name = " ".join(_field(form, "name", 200).split())
    if not name or not any(c.isalnum() for c in name):
        return await _users_page(request, "Give the organization a name.", 400)

    def create() -> bool:
        now = runtime.clock.now()
        with runtime.db.transaction() as session:
            before = session.scalar(select(func.count()).select_from(Organization))
            org_id = accounts.organization_id(session, name, now)
            created = session.scalar(select(func.count()).select_from(Organization)) != before
            if created:
                audit.record(session, staff.actor, "organization.create", f"organization:{org_id}", now, name=name)
            return created

    created = await runtime.db.run(create)
    return _done("/dashboard/users", f"Created the organization {name}." if created else f"{name} already exists.")


async def _tokens_page(request: Request, user_id: int, secret: str = "", status_code: int = 200) -> Response:
    runtime = runtime_of(request)

    def load(session: Session) -> dict[str, Any] | None:
        user = session.get(User, user_id)
        if user is None:
            return None
        tokens = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())))
        return {
            "person": {"id": user.id, "email": user.email, "role": user.role, "active": user.active},
            "tokens": tokens,
        }

    context = await runtime.db.in_transaction(load)
    if context is None:
        return error_page(request, 404, "There is no such user.")
    return render(request, "dashboard/users_tokens.html", status_code, title="API tokens", secret=secret, **context)


@page("users")
async def tokens_page(request: Request) -> Response:
    """GET /dashboard/users/{id}/tokens."""
    user_id = _user_id(request)
    return (
        error_page(request, 404, "There is no such user.") if user_id is None else await _tokens_page(request, user_id)
    )


@page("users")
async def create_token(request: Request) -> Response:
    """POST /dashboard/users/{id}/tokens: a new token, shown once on the page that answers."""
    runtime, staff = runtime_of(request), staff_of(request)
    user_id = _user_id(request)
    if user_id is None:
        return error_page(request, 404, "There is no such user.")
    form = await read_form(request)
    name = " ".join(_field(form, "name", 120).split()) or "api"

    def create() -> str | None:
        now = runtime.clock.now()
        with runtime.db.transaction() as session:
            user = session.get(User, user_id)
            if user is None:
                return None
            secret = accounts.create_token(session, user, name, now)
            audit.record(session, staff.actor, "token.create", f"user:{user.id}", now, name=name, prefix=secret[:10])
            return secret

    secret = await runtime.db.run(create)
    if secret is None:
        return error_page(request, 404, "There is no such user.")
    return await _tokens_page(request, user_id, secret=secret, status_code=201)


@page("users")
async def revoke_token(request: Request) -> Response:
    """POST /dashboard/users/{id}/tokens/{token_id}/revoke."""
    runtime, staff = runtime_of(request), staff_of(request)
    user_id, token_id = _user_id(request), request.path_params.get("token_id")
    if user_id is None or not isinstance(token_id, int):
        return error_page(request, 404, "There is no such token.")

    def revoke() -> str | None:
        now = runtime.clock.now()
        with runtime.db.transaction() as session:
            token = session.get(ApiToken, token_id)
            if token is None or token.user_id != user_id:
                return None
            accounts.revoke_token(session, token, staff.actor, now)
            return token.name

    name = await runtime.db.run(revoke)
    if name is None:
        return error_page(request, 404, "There is no such token.")
    return _done(f"/dashboard/users/{user_id}/tokens", f"Revoked the token {name}.")


ROUTES: list[BaseRoute] = [
    Route("/dashboard/users", users_page, methods=["GET"]),
    Route("/dashboard/users", create_user, methods=["POST"]),
    Route("/dashboard/users/{user_id:id}/role", change_role, methods=["POST"]),
    Route("/dashboard/users/{user_id:id}/active", change_active, methods=["POST"]),
    Route("/dashboard/users/{user_id:id}/password", reset_password, methods=["POST"]),
    Route("/dashboard/users/{user_id:id}/tokens", tokens_page, methods=["GET"]),
    Route("/dashboard/users/{user_id:id}/tokens", create_token, methods=["POST"]),
    Route("/dashboard/users/{user_id:id}/tokens/{token_id:id}/revoke", revoke_token, methods=["POST"]),
    Route("/dashboard/organizations", create_organization, methods=["POST"]),
    *audit_log.ROUTES,
]
