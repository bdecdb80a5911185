"""What is shared with a partner organization (polls by slug, input items by ref, topics, audiences), and the one
rule of who sees what: staff see everything, a partner only what is shared with their organization."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, false, or_, select, true
from sqlalchemy.orm import Session

from bot.engagement.broadcasts.audiences import normalised
from bot.ids import record_id
from bot.store.engagement import Broadcast, InputItem, Poll
from bot.store.staff import Organization, Share

KINDS = ("poll", "item", "topic", "audience", "decision", "owner:poll", "owner:item")


class Viewer(Protocol):
    """Whoever looks: scoped viewers (partners) see only what is shared with their organization."""

    @property
    def scoped(self) -> bool: ...

    @property
    def organization_id(self) -> int | None: ...


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


def share_exactly(session: Session, kind: str, subject: str, organization_ids: set[int], now: datetime) -> set[int]:
    """Share something with exactly these organizations (those that exist): the others' shares of it end. The
    organizations it is shared with now."""
    known = set(session.scalars(select(Organization.id).where(Organization.id.in_(organization_ids))))
    for share_row in session.scalars(select(Share).where(Share.kind == kind, Share.subject == subject)):
        if share_row.organization_id not in known:
            session.delete(share_row)
    for organization_id in sorted(known):
        share(session, organization_id, kind, subject, now)
    session.flush()
    return known


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
    refs = [ref for raw in shared.get("item", set()) if (ref := record_id(raw)) is not None]
    if refs:
        parts.append(InputItem.ref.in_(refs))
    if shared.get("topic"):
        parts.append(InputItem.topic.in_(shared["topic"]))
    if shared.get("poll"):
        parts.append(InputItem.poll_id.in_(select(Poll.id).where(Poll.slug.in_(shared["poll"]))))
    return or_(*parts) if parts else false()


def visible_to(session: Session, viewer: Viewer, kind: str) -> ColumnElement[bool]:
    """The one access rule, as a WHERE clause on polls, input items or broadcasts (by their audience)."""
    if not viewer.scoped:
        return true()
    shared = shared_with(session, viewer.organization_id)
    if kind == "poll":
        return polls_clause(shared)
    if kind == "item":
        return items_clause(shared)
    if kind == "broadcast":  # stored in canonical spelling, shared as written: compared canonically
        audiences = _canonical_audiences(shared)
        return Broadcast.audience.in_(audiences) if audiences else false()
    raise ValueError(f"no access rule for {kind!r}")


def may_see(session: Session, viewer: Viewer, kind: str, subject: str) -> bool:
    """Whether the viewer may see one poll (by slug) or use one audience: the same rule as visible_to."""
    if not viewer.scoped:
        return True
    shared = shared_with(session, viewer.organization_id)
    if kind == "audience":
        return normalised(subject) in _canonical_audiences(shared)
    return subject in shared.get(kind, set())


def _canonical_audiences(shared: dict[str, set[str]]) -> set[str]:
    return {found for found in (normalised(a) for a in shared.get("audience", set())) if found is not None}
