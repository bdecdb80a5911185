"""Staff account commands of the `loopline` CLI: users create, list, password, deactivate, token(s), revoke-token."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.cli.context import RECORD_ID, command_runtime
from bot.staff import accounts, audit
from bot.store.staff import ROLES, ApiToken, Organization, User


def _password(password_file: Path | None) -> str:
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        return lines[0] if lines else ""
    first = click.prompt("Password", hide_input=True)
    second = click.prompt("Repeat the password", hide_input=True)
    if first != second:
        click.echo("loopline: the passwords differ", err=True)
        sys.exit(2)
    return str(first)


def _fail(message: str) -> None:
    click.echo(f"loopline: {message}", err=True)
    sys.exit(1)


@click.group()
def users() -> None:
    """Staff accounts for the dashboard and the API (roles: admin, staff, partner, viewer)."""


@users.command("create")
@click.option("--email", required=True, help="The person's e-mail address (their sign-in name).")
@click.option("--role", required=True, type=click.Choice(ROLES), help="admin, staff, partner or viewer.")
@click.option("--organization", help="The organization (required for partners; created when new).")
@click.option(
    "--password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the password from the first line of this file instead of prompting.",
)
def create(email: str, role: str, organization: str | None, password_file: Path | None) -> None:
    """Create an account (the first admin is created this way)."""
    password = _password(password_file)
    with command_runtime() as runtime, runtime.db.transaction() as session:
        now = runtime.clock.now()
        try:
            user = accounts.create_user(session, email, password, role, now, organization)
        except accounts.AuthError as exc:
            _fail(str(exc))
        audit.record(session, audit.cli_actor(), "user.create", f"user:{user.id}", now, email=user.email, role=role)
    click.echo(f"created {role} {user.email}; sign in at /login")


@users.command("list")
def list_users() -> None:
    """Every account: e-mail, role, organization, active, last sign-in."""
    with command_runtime() as runtime, runtime.db.transaction() as session:
        orgs = {o.id: o.name for o in session.scalars(select(Organization))}
        for user in session.scalars(select(User).order_by(User.email)):
            last = user.last_login_at.isoformat(timespec="minutes") if user.last_login_at else "never"
            state = "active" if user.active else "deactivated"
            org = orgs.get(user.organization_id or 0, "-")
            click.echo(f"{user.email}\t{user.role}\t{org}\t{state}\tlast sign-in {last}")


def _user(session: Session, email: str) -> User:
    user = session.scalars(select(User).where(User.email == accounts.normalise_email(email))).first()
    if user is None:
        _fail(f"no user {email}")
    assert user is not None
    return user


@users.command("password")
@click.option("--email", required=True, help="Whose password to set.")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def password(email: str, password_file: Path | None) -> None:
    """Set a new password (signs the person out everywhere)."""
    secret = _password(password_file)
    with command_runtime() as runtime, runtime.db.transaction() as session:
        user = _user(session, email)
        try:
            accounts.set_password(session, user, secret, audit.cli_actor(), runtime.clock.now())
        except accounts.AuthError as exc:
            _fail(str(exc))
    click.echo(f"password changed for {email}; their sessions ended and their tokens were revoked")


@users.command("deactivate")
@click.option("--email", required=True, help="Whose account to deactivate.")
def deactivate(email: str) -> None:
    """Stop an account: its sessions end and its tokens are revoked for good (its history stays)."""
    with command_runtime() as runtime, runtime.db.transaction() as session:
        changed = accounts.set_active(session, _user(session, email), False, audit.cli_actor(), runtime.clock.now())
    click.echo(f"deactivated {email}" if changed else f"{email} was already deactivated")


@users.command("token")
@click.option("--email", required=True, help="Whose token (the API acts with this person's role).")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
def token(email: str, name: str) -> None:
    """Create a bearer token for the JSON API; it is shown once."""
    with command_runtime() as runtime, runtime.db.transaction() as session:
        user = _user(session, email)
        if not user.active:
            _fail(f"{email} is deactivated")
        secret = accounts.create_token(session, user, name, runtime.clock.now())
        audit.record(session, audit.cli_actor(), "token.create", f"user:{user.id}", runtime.clock.now(), name=name)
    click.echo(secret)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="minutes") if moment else "never"


@users.command("tokens")
@click.option("--email", required=True, help="Whose tokens to list.")
def tokens(email: str) -> None:
    """A person's API tokens: id, name, first characters, created, last used, live or revoked."""
    with command_runtime() as runtime, runtime.db.transaction() as session:
        user = _user(session, email)
        for row in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)):
            state = f"revoked {_when(row.revoked_at)}" if row.revoked_at else "live"
            click.echo(
                f"{row.id}\t{row.name}\t{row.prefix}\tcreated {_when(row.created_at)}"
                f"\tlast used {_when(row.last_used_at)}\t{state}"
            )


@users.command("revoke-token")
@click.option("--email", required=True, help="Whose token to revoke.")
@click.option("--name", help="Revoke every live token of theirs with this name.")
@click.option("--id", "token_id", type=RECORD_ID, help="Revoke the token with this id (see `users tokens`).")
def revoke_token(email: str, name: str | None, token_id: int | None) -> None:
    """Revoke an API token for good, by name or by id (audited)."""
    if (name is None) == (token_id is None):
        raise click.UsageError("give --name or --id")
    with command_runtime() as runtime, runtime.db.transaction() as session:
        user = _user(session, email)
        chosen = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        chosen = chosen.where(ApiToken.name == name) if name is not None else chosen.where(ApiToken.id == token_id)
        found = list(session.scalars(chosen.order_by(ApiToken.id)))
        if not found:
            _fail(
                f"{email} has no live token {name!r}" if name is not None else f"{email} has no live token {token_id}"
            )
        for row in found:
            accounts.revoke_token(session, row, audit.cli_actor(), runtime.clock.now())
        revoked = [f"{row.id} ({row.name}, {row.prefix})" for row in found]
    click.echo(f"revoked {', '.join(revoked)}")
