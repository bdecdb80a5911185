"""A message the program starts (not a reply): to a resident's first reachable address, as an outbox row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels.render import render
from bot.i18n.negotiation import text_direction
from bot.messages import Address, Channel, Reply
from bot.store.models import Address as AddressRow
from bot.store.models import Resident


def reachable_address(session: Session, resident_id: int) -> AddressRow | None:
    """The resident's first address that can still be reached."""
    return session.scalars(
        select(AddressRow)
        .where(AddressRow.resident_id == resident_id, AddressRow.reachable.is_(True))
        .order_by(AddressRow.id)
    ).first()


def notice_row(
    key: str, purpose: str, resident: Resident, address: AddressRow, text: str, now: datetime
) -> dict[str, Any]:
    """The outbox row that carries a text, rendered for the address's channel, due now."""
    locale = resident.locale or "en"
    outbound = render(Reply(text, (), text_direction(locale)), Address(Channel(address.channel), address.value))
    return {
        "idempotency_key": key,
        "purpose": purpose,
        "resident_id": resident.id,
        "channel": address.channel,
        "address": address.value,
        "text": outbound.text,
        "choices": {},
        "status": "pending",
        "urgent": False,
        "attempts": 0,
        "not_before": now,
        "claimed_until": None,
        "last_error": None,
        "message_id": None,
        "created_at": now,
        "finished_at": None,
    }
