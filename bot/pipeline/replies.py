"""A turn's replies: answered inline in the provider's response (recorded as sent now) or queued in the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from bot.channels.render import render
from bot.conversation.views import Turn
from bot.messages import Address, Outbound
from bot.pipeline.sender import store_message
from bot.store.outbox import OUTBOX, outbox_row
from bot.store.prepared import Prepared

# outbox_row names every column
_NEW_OUTBOX_ROW = Prepared(insert(OUTBOX), [column.name for column in OUTBOX.columns if column.name != "id"])


def outbound_message_row(resident_id: int | None, outbound: Outbound, now: datetime) -> dict[str, Any]:
    """The message row of a reply given in the provider's HTTP response (TwiML, the simulator)."""
    return {
        "resident_id": resident_id,
        "direction": "out",
        "channel": outbound.address.channel.value,
        "address": outbound.address.value,
        "text": outbound.text,
        "provider_id": None,
        "status": "sent",
        "payload": {"inline": "1"},
        "created_at": now,
    }


def queue_replies(
    session: Session,
    resident_id: int | None,
    turn: Turn,
    address: Address,
    message_id: int,
    inline: bool,
    now: datetime,
) -> list[Outbound]:
    """Write an outbox row per reply (keyed by the message it answers); inline ones are returned, recorded as sent.
    No resident: they were just erased, and the reply saying so goes to the address alone."""
    answered_now: list[Outbound] = []
    for index, reply in enumerate(turn.replies):
        outbound = render(reply, address)
        row = outbox_row(f"{turn.purpose}:{message_id}:{index}", turn.purpose, resident_id, outbound, now)
        if inline:
            sent_id = store_message(session, outbound_message_row(resident_id, outbound, now))
            row.update(status="sent", message_id=sent_id, finished_at=now, attempts=1)
            answered_now.append(outbound)
        _NEW_OUTBOX_ROW.run(session, row)
    return answered_now
