"""Carrying out what a turn produced, in one place: the resident's fields and consent, poll answers, feedback
items and RSVPs (with the replies some of them call for)."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.orm import Session

from bot.conversation.check_in import PAYOUT_FLOW
from bot.conversation.flows.engine import (
    CheckIn,
    ForgetAboutMe,
    RecordAnswer,
    Rsvp,
    SetField,
    SubmitFeedback,
    Support,
)
from bot.conversation.my_data import ABOUT_ME_FLOW, DELETE_FLOW
from bot.conversation.views import Turn
from bot.engagement import proposals, trust
from bot.engagement.areas import typed_area
from bot.engagement.compensation import ledger
from bot.engagement.compensation.ledger import Owed
from bot.engagement.decisions import progress
from bot.engagement.decisions.progress import CHECK_BACK_FLOW
from bot.engagement.events import calendar as events
from bot.engagement.feedback.items import submit_feedback
from bot.engagement.polls.answers import poll_for_flow, record_answer
from bot.engagement.residents import about_me
from bot.i18n.negotiation import text_direction
from bot.messages import Reply
from bot.pipeline.sender import RESIDENTS, ResidentRow
from bot.program import Program
from bot.states import Consent
from bot.store.engagement import Event
from bot.store.models import ConsentEvent, Resident
from bot.store.outbox import cancel_unsent, notice_row, queue_once, reachable_address
from bot.store.prepared import Prepared

ERASE_QUESTION = "erase_everything"  # the delete-my-data flow's confirmation
CONSENT_EVENTS = cast(Table, ConsentEvent.__table__)
_SET_RESIDENT = Prepared(
    update(RESIDENTS)
    .where(RESIDENTS.c.id == bindparam("resident_id"))
    .values({name: bindparam(name) for name in ("locale", "fields", "consent", "updated_at")})
)
_SET_AREA = Prepared(
    update(RESIDENTS)
    .where(RESIDENTS.c.id == bindparam("resident_id"))
    .values({name: bindparam(name) for name in ("area_typed", "area", "updated_at")})
)
_NEW_CONSENT_EVENT = Prepared(insert(CONSENT_EVENTS), ("resident_id", "state", "source", "channel", "message_id", "at"))


@dataclass
class Situation:
    """Who said it, where, in which conversation, and the program's defaults for what the resident has not said."""

    session: Session
    person: ResidentRow  # as read with the message, then as the turn changed it
    channel: str
    message_id: int
    flow_slug: str | None
    ref: int | None
    program: Program
    now: datetime
    topic: str | None = None  # what the conversation is about (its answers' topic), e.g. decision:<slug>

    @cached_property
    def resident(self) -> Resident:
        """The resident as an ORM object, for the effects that change more than a field (read fresh when first
        needed: the turn's own field and consent changes are written before)."""
        found = self.session.get(Resident, self.person.id, populate_existing=True)
        assert found is not None
        return found

    @property
    def locale(self) -> str:
        """The resident's language after the turn, or the program's default."""
        return self.person.locale_or(self.program.default_locale)


def apply_effects(session: Session, turn: Turn, where: Situation, rng: random.Random) -> tuple[list[Reply], list[Owed]]:
    """Store everything the turn changed; the replies some effects call for (an RSVP's confirmation), and what the
    resident is now owed for their time (checked in at an event, completed a poll)."""
    _update_resident(session, turn, where)
    replies: list[Reply] = []
    owed: list[Owed] = []
    now, locale = where.now, where.locale  # after the turn set it, if it did
    for effect in turn.effects:
        if isinstance(effect, RecordAnswer):
            _record(session, effect, where, locale, rng)
        elif isinstance(effect, CheckIn):
            event = session.get(Event, effect.event_id)
            checked = ledger.check_in(session, event, where.resident, where.channel, now) if event else None
            owed.extend([checked[1]] if checked and checked[1] else [])
        elif isinstance(effect, ForgetAboutMe):
            about_me.forget(session, where.person.id, where.channel, now)
        elif isinstance(effect, SubmitFeedback) and where.ref is not None:
            item = submit_feedback(session, where.resident, where.ref, effect, locale, where.channel, now)
            if item.kind == proposals.KIND:
                session.flush()
                proposals.received(session, item, now)
        elif isinstance(effect, Support):
            proposals.support(session, effect.proposal_id, where.resident, (where.channel, locale), now, where.program)
        elif isinstance(effect, Rsvp):
            replies.extend(_rsvp(session, effect, where, locale))
    completed = _completed_poll(session, turn, where)
    return replies, [*owed, *([completed] if completed else [])]


def _record(session: Session, effect: RecordAnswer, where: Situation, locale: str, rng: random.Random) -> None:
    """An answer, where its conversation keeps it: about oneself (apart), the payout (the ledger), or a poll."""
    resident_id, now = where.person.id, where.now
    if where.flow_slug == ABOUT_ME_FLOW:
        about_me.record_answer(session, resident_id, effect.question, effect.value, effect.kind, now)
        about_me.redact_message(session, where.message_id)
    elif where.flow_slug == CHECK_BACK_FLOW and where.topic and effect.question == "happened":
        slug = where.topic.removeprefix("decision:")
        progress.record_check_back(session, slug, where.resident, effect.value, locale, now)
    elif where.flow_slug == trust.TRUST_FLOW and effect.question == trust.QUESTION:
        trust.record(session, where.resident, effect.value, (where.channel, locale), now, where.program.timezone)
    elif where.flow_slug == PAYOUT_FLOW:
        ledger.record_payout(session, resident_id, effect.question, effect.value)
        if effect.question == ledger.HANDLE_QUESTION:  # where to send money: on the ledger, not in the messages
            about_me.redact_message(session, where.message_id, ledger.REDACTED_HANDLE)
    elif where.flow_slug:
        poll = poll_for_flow(session, where.flow_slug)
        if poll is not None and poll.status == "open":
            answer = (effect.question, effect.value, effect.kind)
            record_answer(session, poll, where.resident, answer, locale, where.channel, now, rng)


def _rsvp(session: Session, effect: Rsvp, where: Situation, locale: str) -> list[Reply]:
    """An answer to an event, confirmed; the first on the waitlist told when a place opens."""
    event = session.get(Event, effect.event_id)
    if event is None:
        return []
    outcome = events.rsvp(session, event, where.resident.id, effect.response, where.now)
    confirmed = events.confirmation(outcome, event, locale, where.resident.timezone)
    if outcome.promoted_resident_id is not None:
        _tell_promoted(session, event, outcome.promoted_resident_id, where)
    return [Reply(confirmed, (), text_direction(locale))]


def _completed_poll(session: Session, turn: Turn, where: Situation) -> Owed | None:
    """What a resident who just reached the end of a poll is owed for it, if it pays."""
    if not (where.flow_slug and turn.end_session and turn.consent != Consent.REVOKED):
        return None
    if not any(isinstance(e, RecordAnswer) for e in turn.effects):  # ended some other way (closed, STOP)
        return None
    poll = poll_for_flow(session, where.flow_slug)
    return ledger.poll_completed(session, poll, where.resident, where.channel, where.now) if poll else None


def wants_erasure(turn: Turn, where: Situation) -> bool:
    """Whether the resident confirmed that everything held about them is to be erased (DELETE MY DATA, then yes)."""
    return where.flow_slug == DELETE_FLOW and any(
        isinstance(e, RecordAnswer) and e.question == ERASE_QUESTION and e.value is True for e in turn.effects
    )


def _update_resident(session: Session, turn: Turn, where: Situation) -> None:
    """The fields the conversation set (language, answers kept on the resident) and a change of consent, in one
    statement; then the area (matched to the program's areas), which needs the resident as an ORM object."""
    person, now = where.person, where.now
    changes: dict[str, Any] = {}
    area: tuple[str | None] | None = None
    for effect in turn.effects:
        if not isinstance(effect, SetField):
            continue
        if effect.field == "locale" and effect.value:
            changes["locale"] = effect.value
        elif effect.field == "area":  # matched to the program's areas; what was typed is kept too
            area = (effect.value,)
        elif effect.field == "about_me" and effect.value:  # its own consent, kept apart
            about_me.record_consent(session, person.id, effect.value, where.channel, now)
        elif effect.field.startswith("fields."):
            changes["fields"] = {
                **changes.get("fields", person.fields),
                effect.field.removeprefix("fields."): effect.value,
            }
    if turn.consent and turn.consent != person.consent:
        changes["consent"] = turn.consent
    if changes:
        where.person = changed = replace(person, **changes)
        values = {"locale": changed.locale, "fields": changed.fields, "consent": changed.consent}
        _SET_RESIDENT.run(session, {"resident_id": person.id, **values, "updated_at": now})
    if "consent" in changes:
        source = turn.keyword.value if turn.keyword else "onboarding"
        event = {"resident_id": person.id, "state": turn.consent, "source": source, "channel": where.channel}
        _NEW_CONSENT_EVENT.run(session, {**event, "message_id": where.message_id, "at": now})
        if turn.consent == Consent.REVOKED:
            # STOP wins over anything already queued, on every channel of this resident.
            cancel_unsent(session, person.id, now)
    if area is not None:
        typed, name = typed_area(session, area[0], where.program.default_locale)
        _SET_AREA.run(session, {"resident_id": person.id, "area_typed": typed, "area": name, "updated_at": now})
        where.person = replace(where.person, area=name)


def _tell_promoted(session: Session, event: Event, resident_id: int, where: Situation) -> None:
    """Queue "a place opened up" for the first person on the waitlist, on their first reachable channel."""
    promoted = session.get(Resident, resident_id)
    address = reachable_address(session, resident_id)
    if promoted is None or address is None:
        return
    locale = promoted.locale_or(where.program.default_locale)
    text = events.promotion(event, locale, promoted.timezone)
    key = f"waitlist:{event.id}:{resident_id}:{int(where.now.timestamp())}"
    queue_once(session, [notice_row(key, "event", promoted.id, address, text, locale, where.now)])
