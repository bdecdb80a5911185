"""The audit log: one row for every staff action, written in the same transaction as the action itself."""

from __future__ import annotations

import getpass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.store.engagement import AuditEvent


def record(session: Session, actor: str, action: str, subject: str, now: datetime, **details: Any) -> None:
    """Write who (e.g. `user:ana@health.example`, `cli:ana`) did what (`poll.open`) to what (`poll:slug`)."""
    session.add(AuditEvent(actor=actor[:120], action=action[:64], subject=subject[:120], details=details, at=now))


def actor_name(actor: str | None) -> str:
    """Who did something, as staff read it: the e-mail of a dashboard or API user, "ana (command line)"."""
    kind, _, who = (actor or "").partition(":")
    if kind == "user" and who:
        return who
    if kind == "cli" and who:
        return f"{who} (command line)"
    return actor or ""


def cli_actor() -> str:
    """How the audit log names whoever runs a `loopline` command: `cli:` and their operating-system user
    (containers may run as a user with no name)."""
    try:
        return "cli:" + getpass.getuser()
    except (KeyError, OSError):
        return "cli:unknown"
