"""What is shared with a partner organization: polls (by slug), input items (by ref), topics and audiences."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from bot.store.engagement import InputItem, Poll
from bot.store.staff import Share

KINDS = ("poll", "item", "topic", "audience")


def share(session: Session, organization_id: int, kind: str, subject: str, now: datetime) -> None:
    """Share something with an organization (no-op when already shared)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    exists = session.scalars(
        select(Share).where(Share.organization_id == organization_id, Share.kind == kind, Share.subject == subject)
    ).first()
    if exists is None:
        session.add(Share(organization_id=organization_id, kind=kind, subject=subject, created_at=now))


def unshare(session: Session, organization_id: int, kind: str, subject: str) -> None:
    """Stop sharing it."""
    for row in session.scalars(
        select(Share).where(Share.organization_id == organization_id, Share.kind == kind, Share.subject == subject)
    ):
        session.delete(row)


def shared_with(session: Session, organization_id: int | None) -> dict[str, set[str]]:
    """Everything shared with the organization, by kind."""
    found: dict[str, set[str]] = defaultdict(set)
    if organization_id is None:
        return found
    for kind, subject in session.execute(
        select(Share.kind, Share.subject).where(Share.organization_id == organization_id)
    ):
        found[kind].add(subject)
    return found


def polls_clause(shared: dict[str, set[str]]) -> ColumnElement[bool]:
    """The polls a partner sees: those shared with their organization."""
    slugs = shared.get("poll", set())
    return Poll.slug.in_(slugs) if slugs else false()


def items_clause(shared: dict[str, set[str]]) -> ColumnElement[bool]:
    """The input items a partner sees: shared one by one, by topic, or as answers to a shared poll."""
    parts: list[Any] = []
    refs = [int(ref) for ref in shared.get("item", set()) if ref.isdigit()]
    if refs:
        parts.append(InputItem.ref.in_(refs))
    if shared.get("topic"):
        parts.append(InputItem.topic.in_(shared["topic"]))
    if shared.get("poll"):
        parts.append(InputItem.poll_id.in_(select(Poll.id).where(Poll.slug.in_(shared["poll"]))))
    return or_(*parts) if parts else false()
