"""Answers to polls as residents give them: one per resident and question (answering again replaces it); an
open answer is also an input item staff read in the inbox."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.engagement.feedback.items import Said, allocate_ref, new_item
from bot.store.engagement import Answer, Poll
from bot.store.models import Resident

POLL_FLOW_PREFIX = "poll-"


def poll_for_flow(session: Session, flow_slug: str) -> Poll | None:
    """The poll whose questions a flow holds, if the flow is a poll."""
    if not flow_slug.startswith(POLL_FLOW_PREFIX):
        return None
    return session.scalars(select(Poll).where(Poll.slug == flow_slug.removeprefix(POLL_FLOW_PREFIX))).first()


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
        new_item(
            session,
            resident,
            Said(channel, locale, now),
            ref=allocate_ref(session, rng),
            kind="poll",
            poll_id=poll.id,
            text=value,
            topic=question,
            may_contact=False,
        )
