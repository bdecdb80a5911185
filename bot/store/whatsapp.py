"""The WhatsApp templates staff registered: an approved Content SID per purpose and language, for messages that
go outside the 24-hour customer-service window, and the quick-reply contents that carry buttons inside it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class WhatsAppTemplate(Base):
    """A Twilio Content SID (HX…) registered for a purpose ("update", "broadcast", "reminder", "decision", or
    "buttons" for quick replies) in one language ("*" for a language-neutral content such as quick replies)."""

    __tablename__ = "whatsapp_templates"
    __table_args__ = (UniqueConstraint("purpose", "locale", "buttons", name="uq_whatsapp_templates_purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    buttons: Mapped[int] = mapped_column(Integer, default=0)  # quick-reply buttons the content has (0: a text)
    content_sid: Mapped[str] = mapped_column(String(34))
    label: Mapped[str] = mapped_column(String(120), default="")  # the name staff know it by in Twilio's console
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
