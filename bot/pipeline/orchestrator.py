"""The orchestrator: store each inbound message first, drop duplicates, and route it, writing every effect of its
turn in the same transaction; messages that arrive together share one transaction (group commit), and what failed
for a passing reason is retried alone."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, text, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.conversation.text import storable
from bot.messages import Channel, Inbound, Outbound
from bot.pipeline.sender import MESSAGES, find_sender, store_message
from bot.pipeline.turn import Answered, Setting, StoredMessage, take_turn
from bot.program import Program
from bot.settings import Settings
from bot.store.db import Database, is_transient
from bot.store.flow_registry import FlowRegistry
from bot.store.media import add_pending
from bot.store.models import DeadLetter

log = logging.getLogger("loopline.pipeline")
ATTEMPTS = 4
_FAILED = update(MESSAGES).where(MESSAGES.c.id == bindparam("message_id")).values(status="error")


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


@dataclass(frozen=True, slots=True)
class Arrival:
    """One inbound message as a channel hands it over: answered inline (TwiML, the simulator) or through the
    outbox, and whether the provider already answered it (Twilio's own STOP reply)."""

    inbound: Inbound
    reply_inline: bool = False
    provider_replied: bool = False


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


def _handled(message_id: int, resident_id: int, answered: Answered) -> Handled:
    return Handled(
        message_id,
        immediate=answered.immediate,
        queued=answered.queued,
        resident_id=resident_id,
        opted_out=answered.opted_out,
    )


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
        return self._alone(Arrival(inbound, reply_inline, provider_replied))

    def handle_batch(self, arrivals: Sequence[Arrival]) -> list[Handled | Exception]:
        """Messages that arrived together, in one transaction and one commit, each with its own outcome (an
        exception is that message's: TransientFailure asks its provider to send it again). If anything in the
        group fails, nothing of it is kept and every message is handled again alone, in order, each turn then in a
        savepoint of its own."""
        if len(arrivals) == 1:
            return [self._outcome(arrivals[0])]
        # Every group takes its senders' locks in one order (by address; one resident's messages keep theirs), so
        # that two groups in flight at once on PostgreSQL wait for each other rather than deadlock.
        order = sorted(
            range(len(arrivals)),
            key=lambda i: (arrivals[i].inbound.address.channel.value, arrivals[i].inbound.address.value),
        )
        results: list[Handled | Exception] = [Handled(None)] * len(arrivals)
        try:
            with self.db.transaction() as session:
                self._set_lock_timeout(session)
                for index in order:
                    results[index] = self._once(session, arrivals[index], self.clock.now(), isolated=False)
            return results
        except Exception as exc:
            log.warning(
                "a group of %d messages was not stored together (%s); one by one", len(arrivals), type(exc).__name__
            )
        return [self._outcome(arrival) for arrival in arrivals]

    def _outcome(self, arrival: Arrival) -> Handled | Exception:
        try:
            return self._alone(arrival)
        except Exception as exc:
            return exc

    def _alone(self, arrival: Arrival) -> Handled:
        for attempt in range(ATTEMPTS):
            try:
                with self.db.transaction() as session:
                    self._set_lock_timeout(session)
                    return self._once(session, arrival, self.clock.now())
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("message not handled yet (%s); attempt %d of %d", type(exc).__name__, attempt + 1, ATTEMPTS)
                time.sleep(self.rng.uniform(0.01, 0.05) * (attempt + 1))
        raise TransientFailure("could not store an inbound message; the provider is asked to send it again")

    def _set_lock_timeout(self, session: Session) -> None:
        if not self.db.is_sqlite:
            session.execute(text(f"SET LOCAL lock_timeout = {int(self.lock_timeout_ms)}"))

    def _once(self, session: Session, arrival: Arrival, now: datetime, *, isolated: bool = True) -> Handled:
        """One message in the transaction: the sender (locked first), the message row, then its turn; alone, the
        turn is in a savepoint, so that a failure there rolls back only the effects and the message is kept as
        "error" (in a group, it fails the group, whose messages are then handled alone)."""
        inbound = arrival.inbound
        if (text_ := storable(inbound.text)) != inbound.text:
            inbound = replace(inbound, text=text_)
        resident, conversation = find_sender(session, inbound, now)
        message_id = store_message(session, _inbound_row(inbound, resident.id, now))
        if message_id is None:
            return Handled(None, duplicate=True)
        # The message's files are fetched later by the media worker (a message without any costs nothing here).
        files = tuple(add_pending(session, message_id, resident.id, inbound, now)) if inbound.media else ()
        said = StoredMessage(
            inbound, message_id, resident, conversation, arrival.reply_inline, arrival.provider_replied, files
        )
        if not isolated:  # in a group: a failure undoes the group, and each of its messages is handled alone
            return _handled(message_id, resident.id, take_turn(session, said, self.setting))
        try:
            with session.begin_nested():
                session.connection()  # the savepoint now: the turn's statements may go straight to the driver
                answered = take_turn(session, said, self.setting)
        except Exception as exc:
            if is_transient(exc):
                raise  # nothing is kept: the provider sends it again
            log.exception("message %s could not be handled; it is kept with status 'error'", message_id)
            session.connection().execute(_FAILED, {"message_id": message_id})
            return Handled(message_id, failed=True, resident_id=resident.id)
        return _handled(message_id, resident.id, answered)

    @property
    def setting(self) -> Setting:
        """What every turn shares, the program as the settings describe it now."""
        return Setting(self.flows, self.program, self.clock, self.rng)
