"""Scheduled sweeps (APScheduler only wakes them): reminders, follow-ups and payout questions, queued exactly once.

Every row a sweep queues has an idempotency key naming what it is for and whom ("reminder:24h:<event>:<resident>"),
so a sweep that runs in several processes at once, or again after a restart, cannot queue anything twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from bot.conversation.check_in import PAYOUT_FLOW
from bot.conversation.router import FOLLOWUP_FLOW
from bot.engagement import trust
from bot.engagement.compensation import ledger
from bot.engagement.compensation.offers import Terms
from bot.engagement.decisions import progress
from bot.engagement.decisions.notices import recipients
from bot.engagement.decisions.progress import CHECK_BACK_FLOW
from bot.engagement.events.calendar import describe
from bot.i18n.catalogs import Translator, _
from bot.i18n.negotiation import pick_text
from bot.pipeline.starting import start_conversation
from bot.program import Program
from bot.states import Consent, EventStatus, OutboxStatus, PollStatus
from bot.store.compensation import CompensationEntry, CompensationOffer
from bot.store.engagement import Answer, Broadcast, Event, Poll, Rsvp
from bot.store.flow_registry import FlowRegistry
from bot.store.models import ConversationSession, OutboxItem, Resident
from bot.store.outbox import notice_row, queue_once, reachable_address

OUTBOX = cast(Table, OutboxItem.__table__)
DEFAULT_PROGRAM = Program("Loopline", None, "en")
EVENT_REMINDER = _("Reminder: {event} is {when}, at {place}. Reply EVENTS to change your answer.")
POLL_REMINDER = _("We would still love to hear from you: our poll is open. Reply POLL to answer.")


@dataclass(frozen=True)
class Schedule:
    """When reminders go: lead times before events, and how long after an invitation a poll reminder follows."""

    event_leads: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
    poll_reminder_after: timedelta = timedelta(hours=48)
    followup_window: timedelta = timedelta(hours=48)
    payout_window: timedelta = timedelta(days=30)  # a line older than this is left to staff to settle
    check_back_after: timedelta = timedelta(days=30)  # after a decision is implemented: "Did this happen?"
    check_back_window: timedelta = timedelta(days=7)  # those busy in another conversation are asked within it
    program: Program = DEFAULT_PROGRAM


def event_reminders(session: Session, now: datetime, schedule: Schedule) -> int:
    """Remind everyone who said yes or maybe, at each lead time before the event (once per lead time)."""
    rows = []
    longest = max(schedule.event_leads)
    soon = session.scalars(
        select(Event).where(
            Event.status == EventStatus.PUBLISHED,
            Event.starts_at > now,
            Event.starts_at <= now + longest,
        )
    )
    for event in soon:
        # Only the nearest lead time that has come: a sweep that was down for hours sends one reminder, not two.
        lead = min(lead for lead in schedule.event_leads if event.starts_at - now <= lead)
        label = f"{int(lead.total_seconds() // 3600)}h" if lead >= timedelta(hours=1) else f"{lead.seconds // 60}m"
        going = session.execute(
            select(Resident, Rsvp)
            .join(Rsvp, Rsvp.resident_id == Resident.id)
            .where(
                Rsvp.event_id == event.id,
                Rsvp.response.in_(("yes", "maybe")),
                Rsvp.waitlisted.is_(False),
                Resident.consent == Consent.GRANTED,
            )
        ).all()
        for resident, _rsvp in going:
            address = reachable_address(session, resident.id)
            if address is None:
                continue
            locale = resident.locale_or(schedule.program.default_locale)
            words = describe(event, locale, resident.timezone)
            text = Translator(locale).gettext(EVENT_REMINDER, **words)
            key = f"reminder:{label}:{event.id}:{resident.id}"
            rows.append(notice_row(key, f"reminder:{event.id}", resident.id, address, text, locale, now))
    return queue_once(session, rows)


def poll_reminders(session: Session, now: datetime, schedule: Schedule) -> int:
    """Once, remind residents invited to an open poll (by a broadcast) who have not answered it."""
    rows = []
    for poll in session.scalars(select(Poll).where(Poll.status == PollStatus.OPEN)):
        invitations = session.scalars(
            select(Broadcast).where(
                Broadcast.send_at <= now - schedule.poll_reminder_after,
            )
        ).all()
        invited_by = [b.id for b in invitations if b.invite.get("poll") == poll.slug]
        if not invited_by:
            continue
        purposes = [f"broadcast:{b}" for b in invited_by]
        invited = select(OutboxItem.resident_id).where(
            OutboxItem.purpose.in_(purposes), OutboxItem.status == OutboxStatus.SENT
        )
        answered = select(Answer.resident_id).where(Answer.poll_id == poll.id)
        for resident in session.scalars(
            select(Resident).where(
                Resident.id.in_(invited),
                Resident.id.not_in(answered),
                Resident.consent == Consent.GRANTED,
            )
        ):
            address = reachable_address(session, resident.id)
            if address is None:
                continue
            locale = resident.locale_or(schedule.program.default_locale)
            text = Translator(locale).gettext(POLL_REMINDER)
            key = f"poll-reminder:{poll.id}:{resident.id}"
            rows.append(notice_row(key, f"broadcast:poll-reminder:{poll.id}", resident.id, address, text, locale, now))
    return queue_once(session, rows)


def event_followups(session: Session, now: datetime, schedule: Schedule, flows: FlowRegistry) -> int:
    """After an event, ask those who said yes "how was it?" (a rating, then a comment), once each.

    The conversation starts here: the resident's next message answers the rating. Someone in the middle of
    another conversation is asked at a later sweep, within the follow-up window."""
    flows.refresh(session)
    ended = session.scalars(
        select(Event).where(
            Event.status == EventStatus.PUBLISHED,
            Event.ends_at <= now,
            Event.ends_at > now - schedule.followup_window,
        )
    ).all()
    queued = 0
    for event in ended:
        busy = select(ConversationSession.resident_id)
        came = session.scalars(
            select(Resident)
            .join(Rsvp, Rsvp.resident_id == Resident.id)
            .where(
                Rsvp.event_id == event.id,
                Rsvp.response == "yes",
                Rsvp.waitlisted.is_(False),
                Resident.consent == Consent.GRANTED,
                Resident.id.not_in(busy),
            )
        ).all()
        for resident in came:
            address = reachable_address(session, resident.id)
            if address is None:
                continue
            locale = resident.locale_or(schedule.program.default_locale)
            title = describe(event, locale, resident.timezone)["event"]
            state = {"answers": {"topic": f"event:{event.slug}"}, "vars": {"event": title}}
            opening = (FOLLOWUP_FLOW, f"followup:{event.id}:{resident.id}", f"followup:{event.id}")
            if start_conversation(session, flows, schedule.program, opening, (resident, address), state, now):
                queued += 1
    return queued


def payout_asks(session: Session, now: datetime, schedule: Schedule, flows: FlowRegistry) -> int:
    """Ask those owed for their time how they want to be paid, once each line, when they are in no conversation
    (ticked at an event by staff, or busy when they qualified)."""
    flows.refresh(session)
    busy = select(ConversationSession.resident_id)
    due = session.execute(
        select(CompensationEntry, Resident)
        .join(Resident, Resident.id == CompensationEntry.resident_id)
        .where(
            CompensationEntry.status == ledger.OWED,
            CompensationEntry.asked_at.is_(None),
            CompensationEntry.payout.is_(None),
            CompensationEntry.created_at > now - schedule.payout_window,
            Resident.consent == Consent.GRANTED,
            Resident.id.not_in(busy),
        )
        .order_by(CompensationEntry.id)
    ).all()
    asked: set[int] = set()
    for entry, resident in due:
        address = reachable_address(session, resident.id)
        if resident.id in asked or address is None:
            continue  # one question at a time: its answer covers every line they were asked about
        locale = resident.locale_or(schedule.program.default_locale)
        offer = session.get(CompensationOffer, entry.offer_id)
        what = pick_text(ledger.title_of(session, offer), locale) if offer is not None else ""
        state = {"vars": {"amount": Terms(entry.amount_minor, entry.currency).text(locale), "what": what}}
        opening = (PAYOUT_FLOW, f"payout:{entry.id}", "compensation")
        if start_conversation(session, flows, schedule.program, opening, (resident, address), state, now):
            ledger.mark_asked(session, [entry.id], now)
            asked.add(resident.id)
    return len(asked)


def check_backs(session: Session, now: datetime, schedule: Schedule, flows: FlowRegistry) -> int:
    """Some days after a decision was implemented, ask each contributor (once, when in no other conversation) whether
    it happened; how many were asked."""
    flows.refresh(session)
    asked = 0
    busy = set(session.scalars(select(ConversationSession.resident_id)))
    program = schedule.program
    for decision in progress.due_for_check_back(session, now, schedule.check_back_after, schedule.check_back_window):
        for recipient in recipients(session, decision, program.default_locale):
            resident = recipient.resident
            if resident.id in busy:
                continue
            title = pick_text(decision.title, recipient.locale, program.default_locale)
            state = {"answers": {"topic": f"decision:{decision.slug}"}, "vars": {"decision": title}}
            opening = (CHECK_BACK_FLOW, f"check-back:{decision.id}:{resident.id}", f"decision:{decision.id}")
            if start_conversation(session, flows, program, opening, (resident, recipient.address), state, now):
                asked += 1
                busy.add(resident.id)
        decision.checked_back_at = decision.checked_back_at or now
    return asked


def trust_pulses(session: Session, now: datetime, schedule: Schedule, flows: FlowRegistry) -> int:
    """Ask residents who have taken part for a while the standing question, once a quarter each (a batch a sweep; a
    broadcast, so the frequency cap and quiet hours hold it); how many were asked."""
    flows.refresh(session)
    program, asked = schedule.program, 0
    quarter = trust.quarter_of(now, program.timezone)
    for resident in trust.to_ask(session, now, program.timezone):
        address = reachable_address(session, resident.id)
        if address is None:
            continue
        opening = (trust.TRUST_FLOW, trust.asking_key(quarter, resident.id), "broadcast:trust-pulse")
        if start_conversation(session, flows, program, opening, (resident, address), {}, now):
            asked += 1
    return asked


def run_sweeps(
    session: Session, now: datetime, schedule: Schedule, flows: FlowRegistry | None = None
) -> dict[str, int]:
    """Every sweep once; how many rows each queued (rows queued before by another process are not counted)."""
    found = {
        "event_reminders": event_reminders(session, now, schedule),
        "poll_reminders": poll_reminders(session, now, schedule),
    }
    if flows is not None:
        found["event_followups"] = event_followups(session, now, schedule, flows)
        found["payout_asks"] = payout_asks(session, now, schedule, flows)
        found["check_backs"] = check_backs(session, now, schedule, flows)
        found["trust_pulses"] = trust_pulses(session, now, schedule, flows)
    return found
