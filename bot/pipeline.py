"""The pipeline: store the inbound message first, drop duplicates, then route and write every effect at once."""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels.render import render
from bot.clock import Clock
from bot.conversation.flows.engine import FlowContext, SetField
from bot.conversation.router import FEEDBACK_FLOW, FOLLOWUP_FLOW, ResidentView, SessionView, Turn, route
from bot.conversation.text import storable
from bot.engagement.effects import Situation, carry_out
from bot.engagement.flow_versions import FlowRegistry
from bot.engagement.notices import cancel_unsent
from bot.engagement.recording import POLL_FLOW_PREFIX, allocate_ref
from bot.engagement.world import read_world
from bot.i18n.negotiation import negotiate
from bot.messages import Address, Channel, Inbound, Outbound
from bot.settings import Settings
from bot.store.db import Database, is_transient
from bot.store.models import (
    Address as AddressRow,
)
from bot.store.models import (
    ConsentEvent,
    ConversationSession,
    DeadLetter,
    Message,
    OutboxItem,
    Resident,
)

log = logging.getLogger("loopline.pipeline")
ATTEMPTS = 4
MESSAGES = cast(Table, Message.__table__)
OUTBOX = cast(Table, OutboxItem.__table__)
RESIDENTS = cast(Table, Resident.__table__)
ADDRESSES = cast(Table, AddressRow.__table__)
SESSIONS = cast(Table, ConversationSession.__table__)


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


def _insert_returning_id(session: Session, table: Table, values: dict[str, Any]) -> int:
    """Insert one row with Core (no ORM unit of work on the hot path) and return its id."""
    return int(session.connection().execute(insert(table).returning(table.c.id), values).scalar_one())


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


def program_params(settings: Settings) -> dict[str, str]:
    """The words every flow text may use: {program}, {contact}, and {frequency} (said in the resident's language)."""
    return {
        "program": settings.program_name,
        "contact": settings.help_contact,
        "messages_per_month": str(settings.messages_per_month),
    }


class Pipeline:
    """The only orchestrator between channel adapters and the store (DESIGN.md)."""

    def __init__(self, db: Database, settings: Settings, clock: Clock, flows: FlowRegistry) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.flows = flows
        self.params = program_params(settings)
        # On PostgreSQL a message waits at most this long for a lock (then it is retried, and at last the provider
        # is asked to send it again): Twilio gives a webhook 15 seconds in all.
        self.lock_timeout_ms = 3000
        # References are short on purpose; STATUS only ever shows a resident their own items.
        self.rng = random.Random()  # noqa: S311

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
            message_id = _insert_returning_id(session, MESSAGES, _inbound_row(inbound, resident_id, now))
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
        resident_id = _insert_returning_id(
            session,
            RESIDENTS,
            {
                "locale": hint,
                "consent": "pending",
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
        row = session.connection().execute(select(SESSIONS).where(SESSIONS.c.resident_id == resident_id)).first()
        # Another process may have loaded a poll or a new version of a flow: seen within a second.
        self.flows.refresh(session, at_most_every=1.0)
        flows = self.flows.latest_flows(session)
        locale = resident.locale or self.settings.default_locale
        view = ResidentView(consent=resident.consent, locale=locale, area=resident.area)
        current = self._session_view(session, row)
        world = read_world(session, resident_id, inbound.text, self.clock.now())
        params = dict(self.params)
        if current is not None and current.flow.slug in (FEEDBACK_FLOW, FOLLOWUP_FLOW):
            params["ref"] = str(allocate_ref(session, self.rng))
        ctx = FlowContext(
            locale=locale,
            resident={
                "consent": resident.consent,
                "locale": locale,
                "locale_known": "yes" if resident.locale else "no",
                "area": resident.area,
                "timezone": resident.timezone or self.settings.timezone,
            },
            params=params,
            now=self.clock.now(),
        )
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
        self._apply(session, resident, turn, inbound, message_id, now)
        situation = Situation(
            resident,
            inbound.address.channel.value,
            self.flows.get(session, row.flow_version_id).slug if row is not None else turn.start_flow,
            int(params["ref"]) if "ref" in params else None,
            self.settings.timezone,
            now,
        )
        extra = carry_out(session, turn.effects, situation, self.rng)
        if extra:
            turn = replace(turn, replies=(*turn.replies, *extra))
        self._save_session(session, resident, row, turn, now)
        handled = self._enqueue(session, resident, turn, inbound, message_id, reply_inline, now)
        handled.resident_id = resident.id
        handled.opted_out = turn.consent == "revoked"
        return handled

    def _session_view(self, session: Session, row: Row[Any] | None) -> SessionView | None:
        if row is None:
            return None
        paused = row.state.get("paused")
        paused_view = (
            SessionView(self.flows.get(session, paused["flow_version_id"]), paused["node"], paused["state"])
            if isinstance(paused, dict)
            else None
        )
        return SessionView(self.flows.get(session, row.flow_version_id), row.node, row.state, paused_view)

    def _apply(
        self,
        session: Session,
        resident: Resident,
        turn: Turn,
        inbound: Inbound,
        message_id: int,
        now: datetime,
    ) -> None:
        for effect in turn.effects:
            if not isinstance(effect, SetField):
                continue
            if effect.field == "locale" and effect.value:
                resident.locale = effect.value
            elif effect.field == "area":
                resident.area = effect.value
            elif effect.field.startswith("fields."):
                resident.fields = {**resident.fields, effect.field.removeprefix("fields."): effect.value}
        if turn.consent and turn.consent != resident.consent:
            resident.consent = turn.consent
            session.add(
                ConsentEvent(
                    resident_id=resident.id,
                    state=turn.consent,
                    source=turn.keyword.value if turn.keyword else "onboarding",
                    channel=inbound.address.channel.value,
                    message_id=message_id,
                    at=now,
                )
            )
            if turn.consent == "revoked":
                # STOP wins over anything already queued, on every channel of this resident.
                cancel_unsent(session, resident.id, now)
        if session.is_modified(resident):
            resident.updated_at = now

    def _save_session(
        self, session: Session, resident: Resident, row: Row[Any] | None, turn: Turn, now: datetime
    ) -> None:
        """Where the conversation stands after this turn (Core statements: one row, no unit of work)."""
        db = session.connection()
        paused = row.state.get("paused") if row is not None else None
        if turn.end_session:
            if row is not None and turn.resume and isinstance(paused, dict):
                db.execute(
                    update(SESSIONS)
                    .where(SESSIONS.c.id == row.id)
                    .values(
                        flow_version_id=paused["flow_version_id"],
                        node=paused["node"],
                        state=paused["state"],
                        updated_at=now,
                    )
                )
            elif row is not None:
                db.execute(delete(SESSIONS).where(SESSIONS.c.id == row.id))
            return
        if turn.start_flow is not None and turn.session_node is not None:
            version_id = self.flows.latest[turn.start_flow]
            if row is not None and not isinstance(paused, dict):
                current = self.flows.get(session, row.flow_version_id).slug
                if current.startswith(POLL_FLOW_PREFIX) and current != turn.start_flow:
                    # Another conversation interrupts a poll: keep the poll to come back to it afterwards.
                    paused = {"flow_version_id": row.flow_version_id, "node": row.node, "state": row.state}
            state = {**turn.session_state, "paused": paused} if isinstance(paused, dict) else turn.session_state
            values = {
                "flow_version_id": version_id,
                "node": turn.session_node,
                "state": state,
                "started_at": now,
                "updated_at": now,
            }
            if row is None:
                db.execute(insert(SESSIONS), {"resident_id": resident.id, **values})
            else:
                db.execute(update(SESSIONS).where(SESSIONS.c.id == row.id).values(**values))
        elif row is not None and turn.session_node is not None:
            db.execute(
                update(SESSIONS)
                .where(SESSIONS.c.id == row.id)
                .values(node=turn.session_node, state=turn.session_state, updated_at=now)
            )

    def _enqueue(
        self,
        session: Session,
        resident: Resident,
        turn: Turn,
        inbound: Inbound,
        message_id: int,
        reply_inline: bool,
        now: datetime,
    ) -> Handled:
        handled = Handled(message_id)
        address = Address(inbound.address.channel, inbound.address.value)
        for index, reply in enumerate(turn.replies):
            outbound = render(reply, address)
            item: dict[str, Any] = {
                "idempotency_key": f"{turn.purpose}:{message_id}:{index}",
                "purpose": turn.purpose,
                "resident_id": resident.id,
                "channel": address.channel.value,
                "address": address.value,
                "text": outbound.text,
                "choices": {"choices": [[c.value, c.label] for c in outbound.choices]},
                "status": "pending",
                "urgent": False,
                "attempts": 0,
                "not_before": now,
                "created_at": now,
                "message_id": None,
                "finished_at": None,
            }
            if reply_inline:
                # Answered in the provider's HTTP response (TwiML, the simulator): recorded as sent now.
                sent_id = _insert_returning_id(
                    session,
                    MESSAGES,
                    {
                        "resident_id": resident.id,
                        "direction": "out",
                        "channel": address.channel.value,
                        "address": address.value,
                        "text": outbound.text,
                        "provider_id": None,
                        "status": "sent",
                        "payload": {"inline": "1"},
                        "created_at": now,
                    },
                )
                item.update(status="sent", message_id=sent_id, finished_at=now, attempts=1)
                handled.immediate.append(outbound)
            else:
                handled.queued += 1
            session.connection().execute(insert(OUTBOX), item)
        return handled
