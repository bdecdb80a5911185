"""Files residents send (photos, voice notes, PDFs): one row per file of an inbound message, pending until the media
worker fetched and checked it, then stored under a key that names no one; and the statements that keep them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.messages import Inbound
from bot.store.models import Base


class MediaStatus:
    """Where a file stands: waiting to be fetched, kept, refused or given up (failed, with why), or erased (its row
    waits until the stored file is deleted)."""

    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"
    ERASING = "erasing"


class Attachment(Base):
    """One file a resident sent with a message: what the provider named, and once fetched, what it really is."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_status_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("input_items.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer, default=0)  # its place among the message's files
    source: Mapped[str] = mapped_column(String(1000))  # the provider's media URL or file id (never logged)
    declared_type: Mapped[str | None] = mapped_column(String(100))
    declared_size: Mapped[int | None] = mapped_column(BigInteger)
    filename: Mapped[str | None] = mapped_column(String(255))  # as the resident's app named it; never in a key
    status: Mapped[str] = mapped_column(String(16), default=MediaStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_until: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(200))  # why it was refused or is not fetched yet
    content_type: Mapped[str | None] = mapped_column(String(100))  # as its bytes show, once fetched
    size: Mapped[int | None] = mapped_column(BigInteger)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    publishable: Mapped[bool] = mapped_column(Boolean, default=False)  # staff: partners and viewers may see it
    created_at: Mapped[datetime]
    fetched_at: Mapped[datetime | None]


ATTACHMENTS = cast(Table, Attachment.__table__)
_NEW = insert(ATTACHMENTS)


def add_pending(session: Session, message_id: int, resident_id: int, inbound: Inbound, now: datetime) -> list[int]:
    """Rows for the files of a stored message (ten at most, as MMS), to be fetched by the media worker (never in the
    webhook's time)."""
    ids = []
    channel = inbound.address.channel.value
    for position, ref in enumerate(inbound.media[:10]):
        row: dict[str, Any] = {
            "message_id": message_id,
            "resident_id": resident_id,
            "channel": channel,
            "position": position,
            "source": ref.source[:1000],
            "declared_type": (ref.content_type or "")[:100] or None,
            "declared_size": ref.size if isinstance(ref.size, int) and 0 <= ref.size < 2**62 else None,
            "filename": (ref.filename or "")[:255] or None,
            "status": MediaStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "publishable": False,
            "created_at": now,
        }
        ids.append(int(session.connection().execute(_NEW.returning(ATTACHMENTS.c.id), row).scalar_one()))
    return ids


def link_to_item(session: Session, attachment_ids: Sequence[int], item_id: int) -> int:
    """The files become part of an input item (still the resident's, still on their message)."""
    if not attachment_ids:
        return 0
    done = session.execute(
        update(Attachment)
        .where(Attachment.id.in_(list(attachment_ids)), Attachment.item_id.is_(None))
        .values(item_id=item_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(done, "rowcount", 0) or 0)


def forget_resident(session: Session, resident_id: int) -> int:
    """Erasure: the resident's files lose every link to them at once; a file not stored yet goes with its row, a
    stored one is marked for the media worker to delete (after this transaction commits), then its row goes.
    How many files were theirs."""
    mine = Attachment.resident_id == resident_id
    count = len(session.scalars(select(Attachment.id).where(mine)).all())
    session.execute(delete(Attachment).where(and_(mine, Attachment.storage_key.is_(None))))
    session.execute(
        update(Attachment)
        .where(mine)
        .values(
            status=MediaStatus.ERASING,
            resident_id=None,
            message_id=None,
            item_id=None,
            source="",
            filename=None,
            error=None,
            publishable=False,
        )
        .execution_options(synchronize_session=False)
    )
    return count
