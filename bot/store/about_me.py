"""Models of what residents say about themselves (special-category data): its own consent, and the answers, kept
apart from everything else about the resident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class AboutMeConsent(Base):
    """One change of a resident's consent to the questions about themselves (granted, declined, withdrawn), kept as
    history apart from their consent to take part."""

    __tablename__ = "about_me_consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime]


class AboutMeAnswer(Base):
    """A resident's answer to one question about themselves (an option value, several, or their own words)."""

    __tablename__ = "about_me_answers"
    __table_args__ = (UniqueConstraint("resident_id", "question", name="uq_about_me_answers_resident_question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64))
    value: Mapped[dict[str, Any]]  # {"value": "25_34"} or {"value": ["asian", "white"]} or {"value": "own words"}
    updated_at: Mapped[datetime]
