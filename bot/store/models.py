"""SQLAlchemy 2 typed models: residents, addresses, consent history, messages, sessions, flows, outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.states import Consent, OutboxStatus


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, the two steps (to UTC, then SQLAlchemy's "YYYY-MM-DD HH:MM:SS.ffffff" text) in one call: every
        message writes several timestamps, and the composed pair cost a tenth of a webhook's Python (the text is
        checked equal to the pair's by a property test)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # A turn writes the same `now` into most of its rows: the last one written is kept with its text, as one
        # tuple (swapped whole, so threads never see half of it; held here, so its identity is never reused).
        last: list[tuple[datetime, str]] = [(datetime.min.replace(tzinfo=UTC), "")]

        def to_text(value: datetime | None) -> str | None:
            if value is None:
                return None
            kept = last[0]
            if value is kept[0]:
                return kept[1]
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            text = (value if value.tzinfo is UTC else value.astimezone(UTC)).isoformat(" ", "microseconds")[:26]
            last[0] = (value, text)  # without its "+00:00" above
            return text

        return to_text


class Base(DeclarativeBase):
    """Declarative base with naming conventions so migrations name constraints the same everywhere."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


Base.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Resident(Base):
    """A person who talks to the program, on one or more channels."""

    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    consent: Mapped[str] = mapped_column(String(16), default=Consent.PENDING)
    area: Mapped[str | None] = mapped_column(String(120))  # the program's name for it when matched, else as typed
    area_typed: Mapped[str | None] = mapped_column(String(120))  # as the resident wrote it
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    display_name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    addresses: Mapped[list[Address]] = relationship(back_populates="resident")

    def locale_or(self, default: str) -> str:
        """The resident's language, or the program's default while they have not chosen one."""
        return self.locale or default


class Address(Base):
    """A channel address (E.164 number, Telegram chat id, simulator handle) belonging to a resident."""

    __tablename__ = "addresses"
    __table_args__ = (UniqueConstraint("channel", "value", name="uq_addresses_channel_value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]

    resident: Mapped[Resident] = relationship(back_populates="addresses")


class ConsentEvent(Base):
    """One change of a resident's consent, kept as history."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(16))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    at: Mapped[datetime]


class Message(Base):
    """Every message in or out, with the provider's id (unique per channel, the dedupe key)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "provider_id", name="uq_messages_channel_provider_id"),
        Index("ix_messages_resident_created", "resident_id", "created_at"),
        Index("ix_messages_created_direction", "created_at", "direction"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class FlowVersion(Base):
    """One stored version of a flow definition; sessions point at the version they started on."""

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("slug", "version", name="uq_flow_versions_slug_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class ConversationSession(Base):
    """Where a resident is in a flow: flow version, node and collected state. One active per resident."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), unique=True, index=True)
    flow_version_id: Mapped[int] = mapped_column(ForeignKey("flow_versions.id"))
    node: Mapped[str] = mapped_column(String(64))
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    flow_version: Mapped[FlowVersion] = relationship()


class OutboxItem(Base):
    """A message waiting to leave: one row per idempotency key, claimed and sent by a delivery worker."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_due", "status", "not_before"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    purpose: Mapped[str] = mapped_column(String(32))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    choices: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    # Set when the row passed its last consent check right before the provider call, cleared when the outcome
    # is recorded: a STOP lets in-flight rows finish (and waits for them) and cancels every other one.
    in_flight_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class DeadLetter(Base):
    """A provider request that could not become a message (e.g. no sender); kept so that nothing is lost."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    received_at: Mapped[datetime]


class RateBucket(Base):
    """A token bucket shared by every process: how much of a provider's pace is left, as of updated_at."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    tokens: Mapped[float]
    updated_at: Mapped[datetime]


class EarlyStatus(Base):
    """A provider status callback that arrived before its message was recorded; applied once it is."""

    __tablename__ = "early_statuses"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[datetime]
