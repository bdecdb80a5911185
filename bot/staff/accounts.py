"""Staff sign-in: argon2 passwords, server-side sessions, CSRF tokens, login throttling, roles and API tokens."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.staff import audit
from bot.store.staff import ROLES, ApiToken, LoginThrottle, Organization, StaffSession, User

SESSION_COOKIE = "loopline_session"
LOGIN_CSRF_COOKIE = "loopline_login_csrf"
SESSION_IDLE = timedelta(hours=8)
SESSION_LIFETIME = timedelta(hours=24)
THROTTLE_WINDOW = timedelta(minutes=15)
EMAIL_FAILURES_ALLOWED = 5  # for one e-mail from one address
ADDRESS_FAILURES_ALLOWED = 30  # from one address, whatever the e-mails
TOKEN_PREFIX = "ll_"  # noqa: S105 - marks Loopline tokens, not a secret

# What each role may do. Partners act only on what is shared with their organization (see Staff.scoped).
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {"view", "view_numbers", "content", "broadcast", "triage", "reply", "decide", "export", "users", "audit", "pay"}
    ),
    "staff": frozenset({"view", "view_numbers", "content", "broadcast", "triage", "reply", "decide", "export", "pay"}),
    "partner": frozenset({"view", "triage", "reply", "broadcast", "export"}),
    "viewer": frozenset({"view", "export"}),
}

# argon2id with OWASP's recommended parameters (Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane). The library's
# defaults (64 MiB, 3 passes, 4 lanes) made every sign-in take 64 MiB at once: a serve process that stays within
# 150 MB could not afford it. Hashes made with other parameters still verify and are made again at the next sign-in.
# The test suite swaps in the cheapest parameters for its own process; a test checks what the shipped command stores.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@functools.cache
def _no_user_hash(hasher: PasswordHasher) -> str:
    """A hash to verify against when the e-mail is unknown, so both answers take the same time."""
    return hasher.hash(secrets.token_urlsafe(16))


class AuthError(ValueError):
    """A sign-in or account problem, with a message fit to show (it never says which of e-mail or password)."""


@dataclass(frozen=True)
class Staff:
    """The signed-in person behind a request: who, which role, which organization, and the session's CSRF token."""

    user_id: int
    email: str
    role: str
    organization_id: int | None
    csrf_token: str = ""
    session_id: str | None = None

    def can(self, permission: str) -> bool:
        """Whether the role allows it."""
        return permission in PERMISSIONS.get(self.role, frozenset())

    @property
    def scoped(self) -> bool:
        """True for partners: they see only polls, items and audiences shared with their organization."""
        return self.role == "partner"

    @property
    def actor(self) -> str:
        """How the audit log names this person."""
        return f"user:{self.email}"


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return HASHER.hash(password)


def check_password_rules(password: str) -> None:
    """AuthError unless the password is long enough to resist guessing (NIST 800-63B: length over composition)."""
    if len(password) < 12:
        raise AuthError("The password must have at least 12 characters.")
    if len(password) > 1024:
        raise AuthError("The password is too long.")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(email: str) -> str:
    """E-mail addresses compare case-insensitively, without surrounding spaces."""
    return email.strip().lower()


def create_user(
    session: Session,
    email: str,
    password: str,
    role: str,
    now: datetime,
    organization: str | None = None,
) -> User:
    """A new user (AuthError for a bad role, a weak password, a taken e-mail, or a partner without organization)."""
    email = normalise_email(email)
    if role not in ROLES:
        raise AuthError(f"The role must be one of: {', '.join(ROLES)}.")
    if "@" not in email or len(email) > 254:
        raise AuthError("Give a valid e-mail address.")
    check_password_rules(password)
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise AuthError(f"A user {email} already exists.")
    if role == "partner" and not organization:
        raise AuthError("A partner belongs to an organization: give one.")
    org_id = organization_id(session, organization, now) if organization else None
    user = User(email=email, password_hash=hash_password(password), role=role, organization_id=org_id, created_at=now)
    session.add(user)
    session.flush()
    return user


def organization_id(session: Session, name: str, now: datetime) -> int:
    """The organization of that name (or slug), created when new."""
    slug = "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())[:64] or "organization"
    found = session.scalars(select(Organization).where(Organization.slug == slug)).first()
    if found is None:
        found = Organization(slug=slug, name=name.strip()[:200], created_at=now)
        session.add(found)
        session.flush()
    return found.id


def end_access(session: Session, user: User, now: datetime) -> list[str]:
    """End every session of the user and revoke every API token of theirs, for good (a later reactivation brings
    none back); the revoked tokens' prefixes, for the audit entry of the change that called for it."""
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    live = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)
    tokens = list(session.scalars(live.with_for_update()))
    for token in tokens:
        token.revoked_at = now
    return [token.prefix for token in tokens]


def set_password(session: Session, user: User, password: str, actor: str, now: datetime) -> None:
    """Replace a user's password; every session and token of theirs ends (audited as user.password)."""
    check_password_rules(password)
    user.password_hash = hash_password(password)
    revoked = end_access(session, user, now)
    audit.record(session, actor, "user.password", f"user:{user.id}", now, email=user.email, revoked_tokens=revoked)


def set_active(session: Session, user: User, active: bool, actor: str, now: datetime) -> bool:
    """Deactivate or reactivate an account; either way every session and token of theirs ends, for good (audited as
    user.deactivate or user.reactivate). False, and nothing done, when the account already was so."""
    if user.active == active:
        return False
    user.active = active
    revoked = end_access(session, user, now)
    action = "user.reactivate" if active else "user.deactivate"
    audit.record(session, actor, action, f"user:{user.id}", now, email=user.email, revoked_tokens=revoked)
    return True


def revoke_token(session: Session, token: ApiToken, actor: str, now: datetime) -> bool:
    """Revoke one API token (audited as token.revoke); False when it already was."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = now
    audit.record(session, actor, "token.revoke", f"user:{token.user_id}", now, name=token.name, prefix=token.prefix)
    return True


def _email_from_address(email: str, client: str) -> str:
    return f"email-address:{_digest(email)}:{client[:100]}"


def _throttle_keys(email: str, client: str) -> list[tuple[str, int]]:
    """What failures count against: the e-mail from this address, and the address. Never the e-mail alone: anyone
    could then lock a person out from anywhere (and, behind one proxy address, every person)."""
    return [
        (_email_from_address(email, client), EMAIL_FAILURES_ALLOWED),
        (f"address:{client[:100]}", ADDRESS_FAILURES_ALLOWED),
    ]


def locked_for(session: Session, email: str, client: str, now: datetime) -> timedelta | None:
    """How long sign-in stays locked for this e-mail from this client address, or for the address, or None."""
    keys = [key for key, _ in _throttle_keys(normalise_email(email), client)]
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys))).all()
    waits = [row.locked_until - now for row in rows if row.locked_until and row.locked_until > now]
    return max(waits) if waits else None


def _record_failure(session: Session, email: str, client: str, now: datetime) -> None:
    for key, allowed in _throttle_keys(email, client):
        row = session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_started_at=now, locked_until=None)
            session.add(row)
        if now - row.window_started_at > THROTTLE_WINDOW:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        if row.failures >= allowed:
            row.locked_until = now + THROTTLE_WINDOW


def authenticate(session: Session, email: str, password: str, client: str, now: datetime) -> User:
    """The active user with this e-mail and password; AuthError otherwise (failures count toward a lock-out)."""
    email = normalise_email(email)
    wait = locked_for(session, email, client, now)
    if wait is not None:
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        raise AuthError(f"Too many failed sign-ins. Try again in {minutes} minutes.")
    user = session.scalars(select(User).where(User.email == email)).first()
    try:
        HASHER.verify(user.password_hash if user else _no_user_hash(HASHER), password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None:
        _record_failure(session, email, client, now)
        raise AuthError("That e-mail and password do not match an active account.")
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == _email_from_address(email, client)))
    user.last_login_at = now
    return user


def start_session(session: Session, user: User, now: datetime, replacing: str | None = None) -> str:
    """A new session for the user (any session the browser held before is ended: no fixation); the cookie value."""
    if replacing:
        session.execute(delete(StaffSession).where(StaffSession.id == _digest(replacing)))
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    secret = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=_digest(secret),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    return secret


def session_staff(session: Session, cookie: str | None, now: datetime) -> Staff | None:
    """The signed-in person for a session cookie, or None (unknown, expired, idle too long, or user deactivated)."""
    if not cookie or len(cookie) > 200:
        return None
    row = session.get(StaffSession, _digest(cookie))
    if row is None or row.expires_at <= now or now - row.last_seen_at > SESSION_IDLE:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        session.execute(update(StaffSession).where(StaffSession.id == row.id).values(last_seen_at=now))
    return Staff(user.id, user.email, user.role, user.organization_id, row.csrf_token, row.id)


def end_session(session: Session, cookie: str | None) -> None:
    """Sign out: the session no longer exists on the server."""
    if cookie:
        session.execute(delete(StaffSession).where(StaffSession.id == _digest(cookie)))


def create_token(session: Session, user: User, name: str, now: datetime) -> str:
    """A new API token for the user; the secret is returned once and only its hash is kept."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(user_id=user.id, name=name[:120], token_hash=_digest(secret), prefix=secret[:10], created_at=now)
    )
    return secret


def token_staff(session: Session, authorization: str | None, now: datetime) -> Staff | None:
    """The person behind an `Authorization: Bearer` header, or None."""
    if not authorization or not authorization.lower().startswith("bearer "):
        return None
    secret = authorization[7:].strip()
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _digest(secret), ApiToken.revoked_at.is_(None))
    ).first()
    if token is None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return Staff(user.id, user.email, user.role, user.organization_id)


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted token with the expected one."""
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), expected)
