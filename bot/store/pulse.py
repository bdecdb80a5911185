"""The trust pulse: residents' answers, at most once a quarter each, to "Does the health department listen to people
like you?" (1 to 5)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class TrustPulse(Base):
    """One answer to the standing question, with where the resident said it (kept, unlinked, when they are erased)."""

    __tablename__ = "trust_pulses"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    quarter: Mapped[str] = mapped_column(String(7), index=True)  # 2026Q4
    score: Mapped[int] = mapped_column(Integer)
    locale: Mapped[str] = mapped_column(String(16))
    area: Mapped[str | None] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
