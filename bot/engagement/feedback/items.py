"""Input items residents give: feedback with the short reference they are told, and the status they may ask for."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation.flows.engine import SubmitFeedback
from bot.states import ItemStatus
from bot.store.engagement import InputItem
from bot.store.models import Resident


def allocate_ref(session: Session, rng: random.Random) -> int:
    """A short reference residents can quote (e.g. 4821): four digits while they last, then more."""
    for digits in (4, 4, 4, 5, 5, 6, 6, 7):
        ref = rng.randrange(10 ** (digits - 1), 10**digits)
        if session.scalar(select(InputItem.id).where(InputItem.ref == ref)) is None:
            return ref
    raise RuntimeError("no free input item reference")


def submit_feedback(
    session: Session, resident: Resident, ref: int, feedback: SubmitFeedback, locale: str, channel: str, now: datetime
) -> InputItem:
    """Store a piece of feedback as an input item with the reference already told to the resident."""
    topic = feedback.topic
    item = InputItem(
        ref=ref,
        kind="event" if (topic or "").startswith("event:") else "feedback",
        rating=feedback.rating,
        resident_id=resident.id,
        poll_id=None,
        text=feedback.text,
        topic=topic,
        may_contact=feedback.may_contact,
        status=ItemStatus.RECEIVED,
        channel=channel,
        locale=locale,
        area=resident.area,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    return item


def item_status(session: Session, resident_id: int, ref: int) -> str | None:
    """The status of one of the resident's own input items (None when the reference is not theirs)."""
    return session.scalar(select(InputItem.status).where(InputItem.ref == ref, InputItem.resident_id == resident_id))
