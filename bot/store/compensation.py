"""Models of paying residents for their time: an offer on a poll or an event, who checked in at an event, and the
ledger of what is owed and paid to whom."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class CompensationOffer(Base):
    """What a poll or an event pays each resident who qualifies (completed the poll, checked in at the event)."""

    __tablename__ = "compensation_offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), unique=True)
    amount_minor: Mapped[int] = mapped_column(Integer)  # in the currency's smallest unit (cents)
    currency: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool]
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EventCheckIn(Base):
    """A resident who came to an event: ticked by staff, or who texted the event's code."""

    __tablename__ = "event_check_ins"
    __table_args__ = (UniqueConstraint("event_id", "resident_id", name="uq_event_check_ins_event_resident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # "code" or "staff"
    actor: Mapped[str | None] = mapped_column(String(254))
    at: Mapped[datetime]


class CompensationEntry(Base):
    """One line of the ledger: what one resident is owed for one offer, how they want it, and whether it was paid.
    Erasure keeps the line (finance must balance) without the resident or their payment handle."""

    __tablename__ = "compensation_entries"
    __table_args__ = (UniqueConstraint("offer_id", "resident_id", name="uq_compensation_entries_offer_resident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("compensation_offers.id", ondelete="RESTRICT"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    amount_minor: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(8))  # "owed" or "paid"
    payout: Mapped[str | None] = mapped_column(String(64))  # the choice the resident made (the payout flow's value)
    payout_handle: Mapped[str | None] = mapped_column(String(120))  # where to send it, when the choice needs one
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    area: Mapped[str | None] = mapped_column(String(120))
    asked_at: Mapped[datetime | None]  # when they were asked how they want it
    created_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    paid_by: Mapped[str | None] = mapped_column(String(254))
