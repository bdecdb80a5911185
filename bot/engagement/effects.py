"""Carrying out what a conversation produced: poll answers, feedback items and RSVPs (with their own replies)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.render import render
from bot.conversation.flows.engine import Effect, RecordAnswer, Rsvp, SubmitFeedback
from bot.engagement import events
from bot.engagement.recording import poll_for_flow, record_answer, submit_feedback
from bot.i18n.negotiation import text_direction
from bot.messages import Address, Channel, Reply
from bot.store.engagement import Event
from bot.store.models import Address as AddressRow
from bot.store.models import OutboxItem, Resident


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
    address = session.scalars(
        select(AddressRow)
        .where(AddressRow.resident_id == resident_id, AddressRow.reachable.is_(True))
        .order_by(AddressRow.id)
    ).first()
    if promoted is None or address is None:
        return
    locale = promoted.locale or "en"
    text = events.promotion(event, locale, promoted.timezone or where.default_timezone)
    outbound = render(Reply(text, (), text_direction(locale)), Address(Channel(address.channel), address.value))
    key = f"waitlist:{event.id}:{resident_id}:{int(where.now.timestamp())}"
    session.add(
        OutboxItem(
            idempotency_key=key,
            purpose="event",
            resident_id=resident_id,
            channel=address.channel,
            address=address.value,
            text=outbound.text,
            choices={},
            status="pending",
            urgent=False,
            attempts=0,
            not_before=where.now,
            created_at=where.now,
        )
    )
