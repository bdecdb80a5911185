"""Models of residents setting the agenda: a proposal (an input item of kind "proposal", with its own moderation
state) and the residents who support it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.states import ProposalState
from bot.store.models import Base


class Proposal(Base):
    """What staff did with a proposal: published it (supportable), merged it into another, or declined it (why)."""

    __tablename__ = "proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("input_items.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=ProposalState.PENDING)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text, default="")
    moderated_by: Mapped[str | None] = mapped_column(String(254))
    published_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProposalSupport(Base):
    """A resident's support of a published proposal, once each, with where they said it (counted by language, area
    and channel)."""

    __tablename__ = "proposal_supports"
    __table_args__ = (UniqueConstraint("proposal_id", "resident_id", name="uq_proposal_supports_proposal_resident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    area: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
