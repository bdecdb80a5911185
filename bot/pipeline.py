"""The pipeline: store the inbound message first, drop duplicates, then route and write every effect at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.channels.render import render
from bot.clock import Clock
from bot.conversation.flows.engine import FlowContext
from bot.conversation.router import ResidentView, SessionView, Turn, route
from bot.engagement.flow_versions import FlowRegistry
from bot.i18n.negotiation import negotiate
from bot.messages import Address, Channel, Inbound, Outbound
from bot.settings import Settings
from bot.store.db import Database
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


@dataclass(slots=True)
class Handled:
    """What the pipeline did with one inbound message."""

    message_id: int | None
    duplicate: bool = False
    immediate: list[Outbound] = field(default_factory=list)
    queued: int = 0
    failed: bool = False


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

    def record_dead_letter(self, channel: Channel, reason: str, payload: dict[str, Any]) -> None:
        """Keep an authentic request that could not become a message."""
        safe = {str(k)[:64]: str(v)[:5000] for k, v in list(payload.items())[:100]}
        with self.db.transaction() as session:
            session.add(
                DeadLetter(channel=channel.value, reason=reason[:200], payload=safe, received_at=self.clock.now())
            )

    def handle(self, inbound: Inbound, *, reply_inline: bool = False, provider_replied: bool = False) -> Handled:
        """Store, dedupe and answer one message; replies for reply_inline channels are returned, not queued."""
        stored = self._store(inbound)
        if stored is None:
            return Handled(None, duplicate=True)
        message_id, resident_id = stored
        try:
            with self.db.transaction() as session:
                return self._respond(session, inbound, message_id, resident_id, reply_inline, provider_replied)
        except Exception:
            log.exception("message %s could not be handled; it is kept with status 'error'", message_id)
            with self.db.transaction() as session:
                session.execute(update(Message).where(Message.id == message_id).values(status="error"))
            return Handled(message_id, failed=True)

    def _store(self, inbound: Inbound) -> tuple[int, int] | None:
        """First transaction: the message itself and its resident. None when it was seen before."""
        now = self.clock.now()
        try:
            with self.db.transaction() as session:
                duplicate = session.scalar(
                    select(Message.id).where(
                        Message.channel == inbound.address.channel.value,
                        Message.provider_id == inbound.provider_id,
                    )
                )
                if duplicate is not None:
                    return None
                resident = self._find_or_create(session, inbound, now)
                message = Message(
                    resident_id=resident.id,
                    direction="in",
                    channel=inbound.address.channel.value,
                    address=inbound.address.value,
                    text=inbound.text,
                    provider_id=inbound.provider_id,
                    status="received",
                    payload=dict(inbound.raw),
                    created_at=now,
                )
                session.add(message)
                session.flush()
                return message.id, resident.id
        except IntegrityError:
            return None  # the same provider id committed by a concurrent request

    def _find_or_create(self, session: Session, inbound: Inbound, now: datetime) -> Resident:
        address = session.scalars(
            select(AddressRow).where(
                AddressRow.channel == inbound.address.channel.value, AddressRow.value == inbound.address.value
            )
        ).first()
        if address is not None:
            return address.resident
        hint = negotiate(inbound.language_hint, default="") or None
        resident = Resident(
            locale=hint,
            consent="pending",
            fields={},
            display_name=inbound.display_name,
            created_at=now,
            updated_at=now,
        )
        session.add(resident)
        session.flush()
        session.add(
            AddressRow(
                resident_id=resident.id,
                channel=inbound.address.channel.value,
                value=inbound.address.value,
                reachable=True,
                created_at=now,
            )
        )
        session.flush()
        return resident

    def _respond(
        self,
        session: Session,
        inbound: Inbound,
        message_id: int,
        resident_id: int,
        reply_inline: bool,
        provider_replied: bool,
    ) -> Handled:
        resident = session.get(Resident, resident_id, with_for_update=not self.db.is_sqlite)
        assert resident is not None
        row = session.scalars(select(ConversationSession).where(ConversationSession.resident_id == resident_id)).first()
        if not self.flows.latest:
            self.flows.refresh(session)
        flows = self.flows.latest_flows(session)
        locale = resident.locale or self.settings.default_locale
        view = ResidentView(consent=resident.consent, locale=locale, area=resident.area)
        current = (
            SessionView(self.flows.get(session, row.flow_version_id), row.node, row.state) if row is not None else None
        )
        ctx = FlowContext(
            locale=locale,
            resident={
                "consent": resident.consent,
                "locale": locale,
                "locale_known": "yes" if resident.locale else "no",
                "area": resident.area,
            },
            params=self.params,
        )
        turn = route(
            inbound.text,
            view,
            current,
            flows,
            ctx,
            is_button=inbound.is_button,
            provider_replied=provider_replied,
        )
        now = self.clock.now()
        self._apply(session, resident, turn, inbound, message_id, now)
        self._save_session(session, resident, row, turn, now)
        handled = self._enqueue(session, resident, turn, inbound, message_id, reply_inline, now)
        session.execute(update(Message).where(Message.id == message_id).values(status="handled"))
        return handled

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
                session.execute(
                    update(OutboxItem)
                    .where(OutboxItem.resident_id == resident.id, OutboxItem.status == "pending")
                    .values(status="cancelled", last_error="resident opted out", finished_at=now)
                )
        resident.updated_at = now

    def _save_session(
        self, session: Session, resident: Resident, row: ConversationSession | None, turn: Turn, now: datetime
    ) -> None:
        if turn.end_session:
            if row is not None:
                session.delete(row)
            return
        if turn.start_flow is not None and turn.session_node is not None:
            version_id = self.flows.latest[turn.start_flow]
            if row is None:
                session.add(
                    ConversationSession(
                        resident_id=resident.id,
                        flow_version_id=version_id,
                        node=turn.session_node,
                        state=turn.session_state,
                        started_at=now,
                        updated_at=now,
                    )
                )
            else:
                row.flow_version_id, row.node, row.state = version_id, turn.session_node, turn.session_state
                row.started_at = row.updated_at = now
        elif row is not None and turn.session_node is not None:
            row.node, row.state, row.updated_at = turn.session_node, turn.session_state, now

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
            item = OutboxItem(
                idempotency_key=f"{turn.purpose}:{message_id}:{index}",
                purpose=turn.purpose,
                resident_id=resident.id,
                channel=address.channel.value,
                address=address.value,
                text=outbound.text,
                choices={"choices": [[c.value, c.label] for c in outbound.choices]},
                status="pending",
                urgent=False,
                attempts=0,
                not_before=now,
                created_at=now,
            )
            if reply_inline:
                sent = Message(
                    resident_id=resident.id,
                    direction="out",
                    channel=address.channel.value,
                    address=address.value,
                    text=outbound.text,
                    provider_id=None,
                    status="sent",
                    payload={"inline": "1"},
                    created_at=now,
                )
                session.add(sent)
                session.flush()
                item.status, item.message_id, item.finished_at, item.attempts = "sent", sent.id, now, 1
                handled.immediate.append(outbound)
            else:
                handled.queued += 1
            session.add(item)
        return handled
