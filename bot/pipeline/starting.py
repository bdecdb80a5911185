"""Conversations: what a flow may know of a resident, and starting one the program opens (a sweep's follow-up)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bot.channels.segments import fits_in_a_bot_message
from bot.conversation.flows.context import FlowContext
from bot.conversation.flows.engine import start
from bot.pipeline.sender import ResidentRow
from bot.pipeline.sessions import start_session
from bot.program import Program
from bot.store.flow_registry import FlowRegistry
from bot.store.models import Address as AddressRow
from bot.store.models import Resident
from bot.store.outbox import queue_once, reply_row


def flow_context(
    resident: Resident | ResidentRow, program: Program, params: dict[str, str], now: datetime
) -> FlowContext:
    """The one context a flow runs with, for a resident's message or a conversation the program starts."""
    suggested = resident.suggested_locale if isinstance(resident, ResidentRow) else None
    locale = resident.locale or suggested or program.default_locale
    facts = {
        "consent": resident.consent,
        "locale": locale,
        "locale_known": "yes" if resident.locale else "no",
        "area": resident.area,
        "timezone": resident.timezone,  # None when not known: an event is then told in its own zone
        # A newcomer's first message only: the language it seems written in, offered first at the language question
        "suggested_locale": resident.suggested_locale if isinstance(resident, ResidentRow) else None,
    }
    words = {**program.params(), **params}
    return FlowContext(locale=locale, resident=facts, params=words, now=now, fits=fits_in_a_bot_message)


def start_conversation(
    session: Session,
    flows: FlowRegistry,
    program: Program,
    opening: tuple[str, str, str],
    recipient: tuple[Resident, AddressRow],
    state: dict[str, Any],
    now: datetime,
) -> bool:
    """Start the latest version of a flow for a resident who is in no conversation: its first message queued once
    (opening = flow slug, idempotency key, purpose), the conversation saved; False when there was nothing to do."""
    slug, key, purpose = opening
    resident, address = recipient
    version_id = flows.latest.get(slug)
    if version_id is None:
        return False
    ctx = flow_context(resident, program, {str(k): str(v) for k, v in (state.get("vars") or {}).items()}, now)
    step = start(flows.get(session, version_id), ctx, state=state)
    if step.node is None or not step.replies:
        return False
    row = reply_row(key, purpose, resident.id, address, step.replies[0], now)
    if not queue_once(session, [row]):
        return False
    start_session(session, resident.id, version_id, step.node, step.state, now)
    return True
