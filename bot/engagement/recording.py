"""Writing what residents said in polls and feedback: answers (one per question), input items and references."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation.flows.engine import SubmitFeedback
from bot.store.engagement import Answer, InputItem, Poll
from bot.store.models import Resident

POLL_FLOW_PREFIX = "poll-"


def poll_for_flow(session: Session, flow_slug: str) -> Poll | None:
    """The poll whose questions a flow holds, if the flow is a poll."""
    if not flow_slug.startswith(POLL_FLOW_PREFIX):
        return None
    return session.scalars(select(Poll).where(Poll.slug == flow_slug.removeprefix(POLL_FLOW_PREFIX))).first()


def allocate_ref(session: Session, rng: random.Random) -> int:
    """A short reference residents can quote (e.g. 4821): four digits while they last, then more."""
    for digits in (4, 4, 4, 5, 5, 6, 6, 7):
        ref = rng.randrange(10 ** (digits - 1), 10**digits)
        if session.scalar(select(InputItem.id).where(InputItem.ref == ref)) is None:
            return ref
    raise RuntimeError("no free input item reference")


def record_answer(
    session: Session,
    poll: Poll,
    resident: Resident,
    answer: tuple[str, Any, str],
    locale: str,
    channel: str,
    now: datetime,
    rng: random.Random,
) -> None:
    """Keep one answer per resident and question; answering again while the poll is open replaces it."""
    question, value, kind = answer
    existing = session.scalars(
        select(Answer).where(Answer.poll_id == poll.id, Answer.resident_id == resident.id, Answer.question == question)
    ).first()
    stored = {"value": value, "kind": kind}
    if existing is None:
        session.add(
            Answer(
                poll_id=poll.id,
                resident_id=resident.id,
                question=question,
                value=stored,
                channel=channel,
                locale=locale,
                area=resident.area,
                created_at=now,
                updated_at=now,
            )
        )
    else:
        existing.value, existing.channel, existing.locale, existing.area = stored, channel, locale, resident.area
        existing.updated_at = now
    if kind == "ask-text" and isinstance(value, str) and value.strip():
        # Open answers are input items too: staff read them in the inbox and can act on them.
        session.add(
            InputItem(
                ref=allocate_ref(session, rng),
                kind="poll",
                resident_id=resident.id,
                poll_id=poll.id,
                text=value,
                topic=question,
                may_contact=False,
                status="received",
                channel=channel,
                locale=locale,
                area=resident.area,
                created_at=now,
                updated_at=now,
            )
        )


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
        status="received",
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
