"""Models of the program's places: canonical areas (a name per language, ZIP codes, aliases), the spellings staff
mapped to one of them once for everyone, and the population counts residents are compared with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class Area(Base):
    """One of the program's areas: a neighbourhood or ZIP code, named in each language."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    names: Mapped[dict[str, Any]] = mapped_column(default=dict)  # locale -> name
    zips: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"codes": ["94110", ...]}
    aliases: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"names": ["the mission", ...]}
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AreaSpelling(Base):
    """A way residents wrote an area that staff mapped to it (folded: case and accents aside)."""

    __tablename__ = "area_spellings"

    id: Mapped[int] = mapped_column(primary_key=True)
    spelling: Mapped[str] = mapped_column(String(120), unique=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]


class BaselineCount(Base):
    """How many people of one group live in the program's area (or one of its areas), from a named source: the
    population residents taking part are compared with."""

    __tablename__ = "baseline_counts"

    id: Mapped[int] = mapped_column(primary_key=True)
    dimension: Mapped[str] = mapped_column(String(40))
    group_name: Mapped[str] = mapped_column(String(120))
    area: Mapped[str | None] = mapped_column(String(64))  # an area's code; None for the whole program area
    population: Mapped[int]
    source: Mapped[str] = mapped_column(String(300), default="")
    loaded_at: Mapped[datetime]
