"""Input items residents give: feedback with the short reference they are told, and the status they may ask for."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.conversation.agenda import PROPOSAL_TOPIC
from bot.conversation.flows.engine import SubmitFeedback
from bot.states import DecisionStatus, ItemStatus
from bot.store.engagement import Decision, DecisionLink, InputItem
from bot.store.models import Resident
from bot.store.prepared import Prepared

_REF_TAKEN = Prepared(select(InputItem.id).where(InputItem.ref == bindparam("ref")))


def allocate_ref(session: Session, rng: random.Random) -> int:
    """A short reference residents can quote (e.g. 4821): four digits while they last, then more."""
    for digits in (4, 4, 4, 5, 5, 6, 6, 7):
        ref = rng.randrange(10 ** (digits - 1), 10**digits)
        if _REF_TAKEN.first(session, {"ref": ref}) is None:
            return ref
    raise RuntimeError("no free input item reference")


@dataclass(frozen=True)
class Said:
    """Where and how a resident said something: the channel, the language, and when."""

    channel: str
    locale: str
    at: datetime


def new_item(session: Session, resident: Resident, said: Said, **fields: Any) -> InputItem:
    """The one way an input item is made (feedback, an event's follow-up, an open poll answer): received, with the
    resident's channel, language and area at the time; fields give its ref, kind, text and the rest."""
    item = InputItem(
        resident_id=resident.id,
        status=ItemStatus.RECEIVED,
        channel=said.channel,
        locale=said.locale,
        area=resident.area,
        created_at=said.at,
        updated_at=said.at,
        **fields,
    )
    session.add(item)
    return item


def submit_feedback(
    session: Session, resident: Resident, ref: int, feedback: SubmitFeedback, locale: str, channel: str, now: datetime
) -> InputItem:
    """Store a piece of feedback as an input item with the reference already told to the resident."""
    topic = feedback.topic
    kind = "event" if (topic or "").startswith("event:") else "feedback"
    if topic == PROPOSAL_TOPIC:  # the proposal conversation's: a proposal, waiting for staff (bot.engagement.proposals)
        kind, topic = "proposal", None
    return new_item(
        session,
        resident,
        Said(channel, locale, now),
        ref=ref,
        kind=kind,
        rating=feedback.rating,
        poll_id=None,
        text=feedback.text,
        topic=topic,
        may_contact=feedback.may_contact,
    )


def item_status(session: Session, resident_id: int, ref: int) -> str | None:
    """The status of one of the resident's own input items (None when the reference is not theirs)."""
    return session.scalar(select(InputItem.status).where(InputItem.ref == ref, InputItem.resident_id == resident_id))


def item_decision(session: Session, resident_id: int, ref: int) -> tuple[dict[str, str], str] | None:
    """The published decision one of the resident's items is linked to (its title and slug), if any."""
    row = session.execute(
        select(Decision.title, Decision.slug)
        .join(DecisionLink, DecisionLink.decision_id == Decision.id)
        .join(InputItem, InputItem.id == DecisionLink.input_item_id)
        .where(InputItem.ref == ref, InputItem.resident_id == resident_id, Decision.status == DecisionStatus.PUBLISHED)
        .order_by(Decision.published_at.desc(), Decision.id.desc())
        .limit(1)
    ).first()
    return (dict(row.title or {}), str(row.slug)) if row is not None else None


RECENT_ITEMS = 3  # what bare STATUS lists: three lines stay within three SMS segments in every language


def recent_items(session: Session, resident_id: int) -> tuple[tuple[int, str], ...]:
    """The resident's newest input items (reference and status), newest first, for a bare STATUS."""
    rows = session.execute(
        select(InputItem.ref, InputItem.status)
        .where(InputItem.resident_id == resident_id)
        .order_by(InputItem.created_at.desc(), InputItem.id.desc())
        .limit(RECENT_ITEMS)
    ).all()
    return tuple((int(ref), str(status)) for ref, status in rows)
