"""One turn of a conversation: a stored message routed with what the router may know, and everything it causes
written in the same transaction (its effects, where the conversation stands, the replies)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.conversation import check_in
from bot.conversation.agenda import PROPOSE_FLOW
from bot.conversation.flows.context import FlowContext
from bot.conversation.flows.schema import Flow
from bot.conversation.my_data import ABOUT_ME_FLOW
from bot.conversation.router import FEEDBACK_FLOW, FOLLOWUP_FLOW, ONBOARDING, route
from bot.conversation.views import ResidentView, SessionView, Turn
from bot.engagement.compensation import ledger
from bot.engagement.decisions.progress import CHECK_BACK_FLOW
from bot.engagement.feedback.items import allocate_ref
from bot.engagement.residents import about_me
from bot.engagement.residents.privacy import erase
from bot.i18n.negotiation import pick_text
from bot.messages import Inbound, Outbound
from bot.pipeline.attachments import MEDIA_STATE, attach, kept, routed_text
from bot.pipeline.effects import Situation, apply_effects, wants_erasure
from bot.pipeline.replies import queue_replies
from bot.pipeline.sender import ResidentRow, SessionRow
from bot.pipeline.sessions import save_session, session_view
from bot.pipeline.starting import flow_context
from bot.pipeline.world import read_world
from bot.program import Program
from bot.staff import audit
from bot.states import Consent
from bot.store.flow_registry import FlowRegistry
from bot.store.models import ConsentEvent
from bot.store.prepared import Prepared

_EVER_GRANTED = Prepared(
    select(ConsentEvent.id)
    .where(ConsentEvent.resident_id == bindparam("resident_id"), ConsentEvent.state == bindparam("granted"))
    .limit(1)
)
# Conversations that end in an input item, told its reference; and the offer of the questions about oneself, which
# something else said instead passes over (what was said is kept as input).
REF_FLOWS = (FEEDBACK_FLOW, FOLLOWUP_FLOW, ABOUT_ME_FLOW, PROPOSE_FLOW, CHECK_BACK_FLOW)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A stored inbound message and who sent it, as the turn starts."""

    inbound: Inbound
    message_id: int
    resident: ResidentRow
    conversation: SessionRow | None
    reply_inline: bool
    provider_replied: bool
    attachments: tuple[int, ...] = ()  # the message's files, waiting to be fetched


@dataclass(frozen=True, slots=True)
class Answered:
    """What the turn did: replies given now (inline channels), replies queued, and whether it asked to stop."""

    immediate: list[Outbound]
    queued: int
    opted_out: bool


@dataclass(frozen=True, slots=True)
class Setting:
    """What every turn of a process shares: flows, the program, the clock and the reference generator."""

    flows: FlowRegistry
    program: Program
    clock: Clock
    rng: random.Random


def take_turn(session: Session, said: StoredMessage, where: Setting) -> Answered:
    """Route the message and write everything it causes."""
    resident, row, flows = said.resident, said.conversation, where.flows
    # Another process may have loaded a poll or a new version of a flow: seen within a second.
    flows.refresh(session, at_most_every=1.0)
    latest = flows.latest_flows(session)
    current = session_view(session, flows, row)
    # A reference ready for what may become an input item: the end of a feedback conversation, or anything a
    # joined resident says outside a conversation that is no keyword (the router decides; unused ones cost
    # nothing but a number).
    may_keep = current.flow.slug in REF_FLOWS if current else resident.consent == Consent.GRANTED
    extra = {"ref": str(allocate_ref(session, where.rng))} if may_keep else {}
    ctx = flow_context(resident, where.program, extra, where.clock.now())
    now = ctx.now or where.clock.now()
    turn = _decide(session, said, current, latest, ctx, now, where.program)
    now = where.clock.now()
    channel = said.inbound.address.channel.value
    slug = current.flow.slug if current is not None else turn.start_flow
    ref = int(extra["ref"]) if extra else None
    situation = Situation(session, resident, channel, said.message_id, slug, ref, where.program, now, _topic(current))
    turn = _carry_out(session, turn, situation, current, latest, ctx, where.rng)
    if said.attachments or (current is not None and MEDIA_STATE in current.state):
        turn = attach(session, turn, said.attachments, current, resident.id, now)
    erasing = wants_erasure(turn, situation)
    if erasing:  # DELETE MY DATA, confirmed: as the staff erase; the reply saying so is the last trace
        counts = erase(session, situation.resident)
        audit.record(session, "resident", "resident.erase", f"resident:{resident.id}", now, **counts)
    else:
        save_session(session, flows, resident.id, row, turn, now)
    recipient = None if erasing else resident.id
    inline = said.reply_inline
    immediate = queue_replies(session, recipient, turn, said.inbound.address, said.message_id, inline, now)
    session.flush()  # what the effects left in the unit of work, before the next message reads past it
    return Answered(immediate, 0 if inline else len(turn.replies), turn.consent == Consent.REVOKED)


def _decide(
    session: Session,
    said: StoredMessage,
    current: SessionView | None,
    latest: Mapping[str, Flow],
    ctx: FlowContext,
    now: datetime,
    program: Program,
) -> Turn:
    """What the message does, as the router decides; files alone while a question waits are kept, and it stays."""
    text, resident = said.inbound.text, said.resident
    if said.attachments:
        routed = routed_text(text, said.inbound.media, current, resident.consent)
        if routed is None and current is not None:
            return kept(current, ctx)
        text = routed or text
    world = read_world(session, resident.id, text, now, program.pages(ctx.locale))
    view = resident_view(session, resident, ctx.locale, current)
    is_button, provider_replied = said.inbound.is_button, said.provider_replied
    return route(text, view, current, latest, ctx, world=world, is_button=is_button, provider_replied=provider_replied)


def _topic(current: SessionView | None) -> str | None:
    """What the conversation is about, as its answers carry it (decision:<slug> for a check-back)."""
    topic = (current.state.get("answers") or {}).get("topic") if current is not None else None
    return str(topic) if topic else None


def _carry_out(
    session: Session,
    turn: Turn,
    where: Situation,
    current: SessionView | None,
    flows: Mapping[str, Flow],
    ctx: FlowContext,
    rng: random.Random,
) -> Turn:
    """Store the turn's effects; the turn with the replies they call for, then, for someone who just qualified for
    payment, how they want it (else the payout sweep asks, when they are in no other conversation)."""
    if not turn.effects and (turn.consent is None or turn.consent == where.person.consent):
        return turn  # most turns: a question asked, a menu shown; nothing to store but the conversation
    more, owed = apply_effects(session, turn, where, rng)
    if more:
        turn = replace(turn, replies=(*turn.replies, *more))
    if not owed or not check_in.can_ask_payout(turn, current):
        return turn
    ctx = replace(ctx, locale=where.locale)
    amount, what = owed[0].terms.text(ctx.locale), pick_text(owed[0].what, ctx.locale)
    ledger.mark_asked(session, [o.entry_id for o in owed], where.now)
    return check_in.ask_payout(turn, flows, ctx, amount, what)


def resident_view(session: Session, resident: ResidentRow, locale: str, current: SessionView | None) -> ResidentView:
    """The resident as the router sees them (whether they ever joined, and whether they were offered the questions
    about themselves, asked only while they are joining: they are offered once, right after)."""
    joining = current is not None and current.flow.slug == ONBOARDING
    return ResidentView(
        resident.consent,
        locale,
        resident.area,
        joined_before=joined_before(session, resident),
        about_me_offered=not joining or about_me.consent_state(session, resident.id) is not None,
    )


def joined_before(session: Session, resident: ResidentRow) -> bool:
    """Whether a resident ever agreed to take part (asked only of those who said STOP or no: the rest need no query)."""
    if resident.consent not in (Consent.REVOKED, Consent.DECLINED):
        return True
    return _EVER_GRANTED.first(session, {"resident_id": resident.id, "granted": Consent.GRANTED}) is not None
