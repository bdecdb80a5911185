"""Decisions co-owned with partner organizations: staff name the co-owners (the decision is shared with them) and
may mark it co-decided; then it is published only once every co-owner signed off in the dashboard (a partner user
of that organization; each sign-off audited; a change to the draft clears them); notices and the public page name
the co-owners."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.staff import audit, sharing
from bot.states import DecisionStatus
from bot.store.engagement import Decision, DecisionSignOff
from bot.store.staff import Organization, Share

KIND = "decision"  # the share kind that makes an organization a decision's co-owner


class CoDecisionError(ValueError):
    """What cannot be done about co-owners or sign-offs (its message says why)."""


def co_owners(session: Session, decision: Decision) -> list[Organization]:
    """The decision's co-owning organizations, by name."""
    shared = select(Share.organization_id).where(Share.kind == KIND, Share.subject == decision.slug)
    return list(session.scalars(select(Organization).where(Organization.id.in_(shared)).order_by(Organization.name)))


def names(session: Session, decision: Decision) -> list[str]:
    """Who decided it with the department: the partners staff wrote, then the co-owning organizations."""
    found = [p for p in decision.partners or [] if p]
    return found + [o.name for o in co_owners(session, decision) if o.name not in found]


def set_co_owners(
    session: Session, decision: Decision, organization_ids: set[int], co_decided: bool, actor: str, now: datetime
) -> None:
    """Name the co-owners of a draft and whether it is co-decided (audited); any sign-off given is cleared."""
    if decision.status != DecisionStatus.DRAFT:
        raise CoDecisionError("This decision is published: its co-owners can no longer change.")
    if co_decided and not session.scalar(select(Organization.id).where(Organization.id.in_(organization_ids))):
        raise CoDecisionError("Choose the partner organizations that decide it together with you.")
    known = sharing.share_exactly(session, KIND, decision.slug, organization_ids, now)
    decision.co_decided, decision.updated_at = co_decided, now
    clear_sign_offs(session, decision)
    audit.record(
        session, actor, "decision.co_owners", f"decision:{decision.slug}", now, organizations=sorted(known),
        co_decided=co_decided,
    )  # fmt: skip


def sign_off(session: Session, decision: Decision, organization_id: int | None, actor: str, now: datetime) -> None:
    """A co-owning organization signs the draft off, as it stands now (audited)."""
    if decision.status != DecisionStatus.DRAFT:
        raise CoDecisionError("This decision is published already.")
    if organization_id not in {o.id for o in co_owners(session, decision)}:
        raise CoDecisionError("Only a partner organization that co-owns this decision can sign it off.")
    found = session.scalars(
        select(DecisionSignOff).where(
            DecisionSignOff.decision_id == decision.id, DecisionSignOff.organization_id == organization_id
        )
    ).first()
    if found is None:
        session.add(DecisionSignOff(decision_id=decision.id, organization_id=organization_id, actor=actor, at=now))
    audit.record(session, actor, "decision.sign_off", f"decision:{decision.slug}", now, organization=organization_id)


def signed(session: Session, decision: Decision) -> dict[int, DecisionSignOff]:
    """The sign-offs given, by organization."""
    query = select(DecisionSignOff).where(DecisionSignOff.decision_id == decision.id)
    return {s.organization_id: s for s in session.scalars(query)}


def waiting_for(session: Session, decision: Decision) -> list[str]:
    """The co-owners whose sign-off a co-decided decision still waits for (none when it is not co-decided)."""
    if not decision.co_decided:
        return []
    given = signed(session, decision)
    return [o.name for o in co_owners(session, decision) if o.id not in given]


def clear_sign_offs(session: Session, decision: Decision) -> None:
    """The draft changed: what was signed off is no longer what would be published."""
    session.execute(delete(DecisionSignOff).where(DecisionSignOff.decision_id == decision.id))
