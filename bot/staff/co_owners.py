"""Polls and proposals co-owned with partner organizations: a co-owner sees it (it is shared with them) and is named
with it, to residents on the public page and to staff on its page. (Decisions have their own co-owners, who sign
them off: bot.engagement.decisions.co_decision.)"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.staff import audit, sharing
from bot.store.staff import Organization, Share

SHARED_AS = {"poll": "poll", "proposal": "item"}  # co-owning shares it as this kind
OWNER = {"poll": "owner:poll", "proposal": "owner:item"}


def owners(session: Session, kind: str, subject: str) -> list[Organization]:
    """The co-owning organizations of a poll (by slug) or a proposal (by reference), by name."""
    ids = select(Share.organization_id).where(Share.kind == OWNER[kind], Share.subject == subject)
    return list(session.scalars(select(Organization).where(Organization.id.in_(ids)).order_by(Organization.name)))


def names_of(session: Session, kind: str, subjects: list[str]) -> dict[str, list[str]]:
    """The co-owners' names of several polls or proposals at once."""
    found: dict[str, list[str]] = defaultdict(list)
    for subject, name in session.execute(
        select(Share.subject, Organization.name)
        .join(Organization, Organization.id == Share.organization_id)
        .where(Share.kind == OWNER[kind], Share.subject.in_(subjects))
        .order_by(Organization.name)
    ):
        found[str(subject)].append(str(name))
    return found


def set_owners(
    session: Session, kind: str, subject: str, organization_ids: set[int], actor: str, now: datetime
) -> list[str]:
    """Make exactly these organizations co-owners (each also sees it); the names (audited)."""
    for organization_id in sharing.share_exactly(session, OWNER[kind], subject, organization_ids, now):
        sharing.share(session, organization_id, SHARED_AS[kind], subject, now)  # a co-owner sees it
    session.flush()
    named = [o.name for o in owners(session, kind, subject)]
    audit.record(session, actor, f"{kind}.co_owners", f"{kind}:{subject}", now, organizations=named)
    return named
