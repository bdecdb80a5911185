"""The orchestrator: store the inbound message first, drop duplicates, retry what failed for a passing reason,
then route it and write every effect of the turn in the same transaction."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.conversation import check_in
from bot.conversation.agenda import PROPOSE_FLOW
from bot.conversation.flows.context import FlowContext
from bot.conversation.flows.schema import Flow
from bot.conversation.my_data import ABOUT_ME_FLOW
from bot.conversation.router import FEEDBACK_FLOW, FOLLOWUP_FLOW, ONBOARDING, route
from bot.conversation.text import storable
from bot.conversation.views import ResidentView, SessionView, Turn
from bot.engagement.compensation import ledger
from bot.engagement.decisions.progress import CHECK_BACK_FLOW
from bot.engagement.feedback.items import allocate_ref
from bot.engagement.residents import about_me
from bot.engagement.residents.privacy import erase
from bot.i18n.negotiation import negotiate, pick_text
from bot.messages import Address, Channel, Inbound, Outbound
from bot.pipeline.effects import Situation, apply_effects, wants_erasure
from bot.pipeline.replies import queue_replies
from bot.pipeline.sessions import save_session, session_row, session_view
from bot.pipeline.starting import flow_context
from bot.pipeline.world import read_world
from bot.program import Program
from bot.settings import Settings
from bot.staff import audit
from bot.states import Consent
from bot.store.db import Database, insert_returning_id, is_transient
from bot.store.flow_registry import FlowRegistry
from bot.store.models import Address as AddressRow
from bot.store.models import ConsentEvent, DeadLetter, Message, Resident

log = logging.getLogger("loopline.pipeline")
ATTEMPTS = 4
# Conversations that end in an input item, told its reference; and the offer of the questions about oneself, which
# something else said instead passes over (what was said is kept as input).
REF_FLOWS = (FEEDBACK_FLOW, FOLLOWUP_FLOW, ABOUT_ME_FLOW, PROPOSE_FLOW, CHECK_BACK_FLOW)
MESSAGES = cast(Table, Message.__table__)
RESIDENTS = cast(Table, Resident.__table__)
ADDRESSES = cast(Table, AddressRow.__table__)


@dataclass(slots=True)
class Handled:
    """What the pipeline did with one inbound message."""

    message_id: int | None
    duplicate: bool = False
    immediate: list[Outbound] = field(default_factory=list)
    queued: int = 0
    failed: bool = False
    resident_id: int | None = None
    opted_out: bool = False  # this message asked to stop (its confirmation waits for the messages in flight)


class TransientFailure(RuntimeError):
    """The message could not be stored and handled now (the database is busy or away): nothing of it was kept,
    and the provider must be asked to send it again (a 5xx answer); the duplicate check makes a retry safe."""


def _inbound_row(inbound: Inbound, resident_id: int, now: datetime) -> dict[str, Any]:
    return {
        "resident_id": resident_id,
        "direction": "in",
        "channel": inbound.address.channel.value,
        "address": inbound.address.value,
        "text": inbound.text,
        "provider_id": inbound.provider_id,
        "status": "handled",  # the same transaction handles it; a failure in the savepoint marks it "error"
        "payload": dict(inbound.raw),
        "created_at": now,
    }


class Pipeline:
    """The only orchestrator between channel adapters and the store (DESIGN.md)."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, flows: FlowRegistry) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.flows = flows
        # On PostgreSQL a message waits at most this long for a lock (then it is retried, and at last the provider
        # is asked to send it again): Twilio gives a webhook 15 seconds in all.
        self.lock_timeout_ms = 3000
        # References are short on purpose; STATUS only ever shows a resident their own items.
        self.rng = random.Random()  # noqa: S311

    @property
    def program(self) -> Program:
        """The program as the settings describe it now."""
        return Program.of(self.settings)

    def record_dead_letter(self, channel: Channel, reason: str, payload: dict[str, Any]) -> None:
        """Keep an authentic request that could not become a message."""
        safe = {str(k)[:64]: str(v)[:5000] for k, v in list(payload.items())[:100]}
        with self.db.transaction() as session:
            session.add(
                DeadLetter(channel=channel.value, reason=reason[:200], payload=safe, received_at=self.clock.now())
            )

    def handle(self, inbound: Inbound, *, reply_inline: bool = False, provider_replied: bool = False) -> Handled:
        """Store, dedupe and answer one message; replies for reply_inline channels are returned, not queued."""
        if (text := storable(inbound.text)) != inbound.text:
            inbound = replace(inbound, text=text)
        now = self.clock.now()
        for attempt in range(ATTEMPTS):
            try:
                return self._handle_once(inbound, now, reply_inline, provider_replied)
            except IntegrityError:
                # Either this provider id was stored before (a duplicate), or a concurrent first message from
                # the same new address created the resident first: then the next attempt finds it.
                if self._seen(inbound):
                    return Handled(None, duplicate=True)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("message not handled yet (%s); attempt %d of %d", type(exc).__name__, attempt + 1, ATTEMPTS)
                time.sleep(self.rng.uniform(0.01, 0.05) * (attempt + 1))
        raise TransientFailure("could not store an inbound message; the provider is asked to send it again")

    def _handle_once(self, inbound: Inbound, now: datetime, reply_inline: bool, provider_replied: bool) -> Handled:
        with self.db.transaction() as session:
            if not self.db.is_sqlite:
                session.execute(text(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}"))
            resident_id = self._resident_id(session, inbound, now)
            # Locks in one order for every message: the resident first (two messages from one resident wait for
            # each other instead of deadlocking), then the message row that refers to it.
            session.get(Resident, resident_id, with_for_update=False if self.db.is_sqlite else {"key_share": True})
            # The message is written first; everything it causes happens inside a savepoint, so that a failure
            # there rolls back only the effects and the message is kept with status "error".
            message_id = insert_returning_id(session, MESSAGES, _inbound_row(inbound, resident_id, now))
            try:
                with session.begin_nested():
                    return self._respond(session, inbound, message_id, resident_id, reply_inline, provider_replied)
            except Exception as exc:
                if is_transient(exc):
                    raise  # nothing is kept: the provider sends it again
                log.exception("message %s could not be handled; it is kept with status 'error'", message_id)
                session.connection().execute(update(MESSAGES).where(MESSAGES.c.id == message_id).values(status="error"))
                return Handled(message_id, failed=True, resident_id=resident_id)

    def _seen(self, inbound: Inbound) -> bool:
        with self.db.transaction() as session:
            found = (
                session.connection()
                .execute(
                    select(MESSAGES.c.id).where(
                        MESSAGES.c.channel == inbound.address.channel.value,
                        MESSAGES.c.provider_id == inbound.provider_id,
                    )
                )
                .first()
            )
            return found is not None

    def _resident_id(self, session: Session, inbound: Inbound, now: datetime) -> int:
        channel, value = inbound.address.channel.value, inbound.address.value
        found = (
            session.connection()
            .execute(select(ADDRESSES.c.resident_id).where(ADDRESSES.c.channel == channel, ADDRESSES.c.value == value))
            .scalar()
        )
        if found is not None:
            return int(found)
        hint = negotiate(inbound.language_hint, default="") or None
        resident_id = insert_returning_id(
            session,
            RESIDENTS,
            {
                "locale": hint,
                "consent": Consent.PENDING,
                "fields": {},
                "display_name": inbound.display_name,
                "created_at": now,
                "updated_at": now,
            },
        )
        session.connection().execute(
            insert(ADDRESSES),
            {"resident_id": resident_id, "channel": channel, "value": value, "reachable": True, "created_at": now},
        )
        return int(resident_id)

    def _respond(
        self,
        session: Session,
        inbound: Inbound,
        message_id: int,
        resident_id: int,
        reply_inline: bool,
        provider_replied: bool,
    ) -> Handled:
        resident = session.get(Resident, resident_id)  # locked by handle, in this session's identity map
        assert resident is not None
        row = session_row(session, resident_id)
        # Another process may have loaded a poll or a new version of a flow: seen within a second.
        self.flows.refresh(session, at_most_every=1.0)
        flows = self.flows.latest_flows(session)
        program = self.program
        current = session_view(session, self.flows, row)
        # A reference ready for what may become an input item: the end of a feedback conversation, or anything a
        # joined resident says outside a conversation that is no keyword (the router decides; unused ones cost
        # nothing but a number).
        may_keep = current.flow.slug in REF_FLOWS if current else resident.consent == Consent.GRANTED
        extra = {"ref": str(allocate_ref(session, self.rng))} if may_keep else {}
        ctx = flow_context(resident, program, extra, self.clock.now())
        world = read_world(session, resident_id, inbound.text, ctx.now or self.clock.now(), program.pages(ctx.locale))
        view = resident_view(session, resident, ctx.locale, current)
        turn = route(
            inbound.text,
            view,
            current,
            flows,
            ctx,
            world=world,
            is_button=inbound.is_button,
            provider_replied=provider_replied,
        )
        now = self.clock.now()
        situation = Situation(
            resident,
            inbound.address.channel.value,
            message_id,
            current.flow.slug if current is not None else turn.start_flow,
            int(extra["ref"]) if extra else None,
            program,
            now,
            _topic(current),
        )
        turn = _carry_out(session, turn, situation, current, flows, ctx, self.rng)
        erasing = wants_erasure(turn, situation)
        if erasing:  # DELETE MY DATA, confirmed: as the staff erase; the reply saying so is the last trace
            counts = erase(session, resident)
            audit.record(session, "resident", "resident.erase", f"resident:{resident_id}", now, **counts)
        else:
            save_session(session, self.flows, resident.id, row, turn, now)
        address = Address(inbound.address.channel, inbound.address.value)
        immediate = queue_replies(
            session, None if erasing else resident_id, turn, address, message_id, reply_inline, now
        )
        queued = 0 if reply_inline else len(turn.replies)
        opted_out = turn.consent == Consent.REVOKED
        return Handled(message_id, immediate=immediate, queued=queued, resident_id=resident_id, opted_out=opted_out)


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
    more, owed = apply_effects(session, turn, where, rng)
    if more:
        turn = replace(turn, replies=(*turn.replies, *more))
    if not owed or not check_in.can_ask_payout(turn, current):
        return turn
    ctx = replace(ctx, locale=where.resident.locale_or(where.program.default_locale))
    amount, what = owed[0].terms.text(ctx.locale), pick_text(owed[0].what, ctx.locale)
    ledger.mark_asked(session, [o.entry_id for o in owed], where.now)
    return check_in.ask_payout(turn, flows, ctx, amount, what)


def resident_view(session: Session, resident: Resident, locale: str, current: SessionView | None) -> ResidentView:
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


def joined_before(session: Session, resident: Resident) -> bool:
    """Whether a resident ever agreed to take part (asked only of those who said STOP or no: the rest need no query)."""
    if resident.consent not in (Consent.REVOKED, Consent.DECLINED):
        return True
    granted = select(ConsentEvent.id).where(
        ConsentEvent.resident_id == resident.id, ConsentEvent.state == Consent.GRANTED
    )
    return session.scalar(granted.limit(1)) is not None
