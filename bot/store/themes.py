"""Models of themes found in what residents say: a theme (its keywords, the name staff gave it, whether they
confirmed it) and the input items in it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class Theme(Base):
    """A theme: found by the last computation, named and confirmed by staff (kept across computations)."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    computed_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ThemeItem(Base):
    """An input item in a theme (one theme each)."""

    __tablename__ = "theme_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("input_items.id", ondelete="CASCADE"), unique=True)
