"""One person, one record: merge a resident into another (the same person on SMS and on Telegram), so that
STOP on either channel stops both, answers count once and the history reads as one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.states import Consent, OutboxStatus
from bot.store.engagement import Answer, InputItem, Rsvp
from bot.store.media import Attachment
from bot.store.models import Address, ConsentEvent, ConversationSession, Message, OutboxItem, Resident
from bot.store.outbox import cancel_unsent


class MergeError(ValueError):
    """The merge cannot be done as asked; the message says why."""


def _newest_wins(session: Session, model: type[Answer] | type[Rsvp], keep: int, other: int, *key: str) -> None:
    """Where both have a row for the same thing, the older of the two goes; the other's rows then move."""
    kept: list[Answer | Rsvp] = list(session.scalars(select(model).where(model.resident_id == keep)))
    moving: list[Answer | Rsvp] = list(session.scalars(select(model).where(model.resident_id == other)))
    mine = {tuple(getattr(row, k) for k in key): row for row in kept}
    for row in moving:
        twin = mine.get(tuple(getattr(row, k) for k in key))
        if twin is not None:
            session.delete(row if row.updated_at <= twin.updated_at else twin)
    session.flush()
    session.execute(update(model).where(model.resident_id == other).values(resident_id=keep))


def merge(session: Session, keep_id: int, other_id: int, now: datetime) -> Resident:
    """Move everything of `other` onto `keep` and delete `other`; consent follows the latest consent event of
    either (a STOP on one channel is a STOP for the person)."""
    if keep_id == other_id:
        raise MergeError("A resident cannot be merged into themselves.")
    keep, other = session.get(Resident, keep_id), session.get(Resident, other_id)
    if keep is None or other is None:
        raise MergeError("Both residents must exist.")
    latest = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.resident_id.in_((keep_id, other_id)))
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
        .limit(1)
    ).first()
    if latest is not None:
        keep.consent = latest.state
    keep.locale = keep.locale or other.locale
    keep.area, keep.area_typed = (keep.area, keep.area_typed) if keep.area else (other.area, other.area_typed)
    keep.timezone = keep.timezone or other.timezone
    keep.fields = {**(other.fields or {}), **(keep.fields or {})}
    keep.updated_at = now
    _newest_wins(session, Answer, keep_id, other_id, "poll_id", "question")
    _newest_wins(session, Rsvp, keep_id, other_id, "event_id")
    purposes = select(OutboxItem.purpose).where(OutboxItem.resident_id == keep_id)
    session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.resident_id == other_id,
            OutboxItem.status == OutboxStatus.PENDING,
            OutboxItem.purpose.in_(purposes),
        )
        .values(status=OutboxStatus.CANCELLED, last_error="merged into another resident", finished_at=now)
    )
    for model in (Address, ConsentEvent, Message, OutboxItem, InputItem, Attachment):
        session.execute(update(model).where(model.resident_id == other_id).values(resident_id=keep_id))
    session.execute(delete(ConversationSession).where(ConversationSession.resident_id == other_id))
    if keep.consent == Consent.REVOKED:
        cancel_unsent(session, keep_id, now)
    session.execute(delete(Resident).where(Resident.id == other_id))
    session.expunge(other)
    return keep
