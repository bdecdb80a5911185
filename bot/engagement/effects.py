"""Carrying out what a conversation produced: poll answers, feedback items and RSVPs (with their own replies)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from bot.conversation.flows.engine import Effect, RecordAnswer, Rsvp, SubmitFeedback
from bot.engagement import events
from bot.engagement.notices import notice_row, reachable_address
from bot.engagement.recording import poll_for_flow, record_answer, submit_feedback
from bot.i18n.negotiation import text_direction
from bot.messages import Reply
from bot.store.engagement import Event
from bot.store.models import OutboxItem, Resident

OUTBOX = cast(Table, OutboxItem.__table__)


@dataclass(frozen=True)
class Situation:
    """Who said it, where, and in which conversation."""

    resident: Resident
    channel: str
    flow_slug: str | None
    ref: int | None
    default_timezone: str
    now: datetime


def carry_out(session: Session, effects: tuple[Effect, ...], where: Situation, rng: random.Random) -> list[Reply]:
    """Store every engagement effect; the replies some of them call for (an RSVP's confirmation)."""
    replies: list[Reply] = []
    resident, now = where.resident, where.now
    for effect in effects:
        if isinstance(effect, RecordAnswer) and where.flow_slug:
            poll = poll_for_flow(session, where.flow_slug)
            if poll is not None and poll.status == "open":
                record_answer(
                    session, poll, resident, effect.question, effect.value, effect.kind, where.channel, now, rng
                )
        elif isinstance(effect, SubmitFeedback) and where.ref is not None:
            submit_feedback(
                session,
                resident,
                where.ref,
                effect.text,
                effect.topic,
                effect.may_contact,
                where.channel,
                now,
                effect.rating,
            )
        elif isinstance(effect, Rsvp):
            event = session.get(Event, effect.event_id)
            if event is None:
                continue
            outcome = events.rsvp(session, event, resident.id, effect.response, now)
            locale = resident.locale or "en"
            zone = resident.timezone or where.default_timezone
            replies.append(Reply(events.confirmation(outcome, event, locale, zone), (), text_direction(locale)))
            if outcome.promoted_resident_id is not None:
                _tell_promoted(session, event, outcome.promoted_resident_id, where)
    return replies


def _tell_promoted(session: Session, event: Event, resident_id: int, where: Situation) -> None:
    """Queue "a place opened up" for the first person on the waitlist, on their first reachable channel."""
    promoted = session.get(Resident, resident_id)
    address = reachable_address(session, resident_id)
    if promoted is None or address is None:
        return
    text = events.promotion(event, promoted.locale or "en", promoted.timezone or where.default_timezone)
    key = f"waitlist:{event.id}:{resident_id}:{int(where.now.timestamp())}"
    session.connection().execute(insert(OUTBOX), notice_row(key, "event", promoted, address, text, where.now))
