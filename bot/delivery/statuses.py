"""Provider delivery statuses applied to our records: a message's status only moves forward; a callback that arrives
before its message is kept until it is; an opted-out or unreachable code acts on the resident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bot.channels.twilio_statuses import OPTED_OUT_CODES, UNREACHABLE_CODES, may_follow
from bot.messages import Channel
from bot.states import Consent
from bot.store.models import Address, ConsentEvent, EarlyStatus, Message, Resident
from bot.store.outbox import cancel_unsent

TWILIO_CHANNELS = (Channel.SMS.value, Channel.WHATSAPP.value)  # whose statuses Twilio calls back


def apply_status(session: Session, sid: str, status: str, code: int | None, now: datetime) -> bool:
    """Record one callback inside a transaction; False when no outbound SMS or WhatsApp message has this provider
    id."""
    message = session.execute(
        select(Message.id, Message.resident_id, Message.channel, Message.address).where(
            Message.channel.in_(TWILIO_CHANNELS), Message.provider_id == sid, Message.direction == "out"
        )
    ).first()
    if message is None:
        return False
    values: dict[str, str] = {"status": status}
    if code is not None:
        values["error_code"] = str(code)
    # One conditional UPDATE: a concurrent callback either sees this one's result or is re-checked after it,
    # so the status can never move backwards.
    session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status.in_(sorted(may_follow(status))))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    provider_refused(
        session,
        message.resident_id,
        message.channel,
        message.address,
        now,
        opted_out=code in OPTED_OUT_CODES,
        unreachable=code in UNREACHABLE_CODES,
        message_id=message.id,
    )
    return True


def provider_refused(
    session: Session,
    resident_id: int | None,
    channel: str,
    address: str,
    now: datetime,
    *,
    opted_out: bool,
    unreachable: bool,
    message_id: int | None = None,
) -> None:
    """What a provider's refusal means for the resident: opted out (consent revoked, with its history) and/or
    an address that can never be reached (not used again)."""
    if opted_out and resident_id is not None:
        resident = session.get(Resident, resident_id, with_for_update=True)
        if resident is not None and resident.consent != Consent.REVOKED:
            resident.consent, resident.updated_at = Consent.REVOKED, now
            cancel_unsent(session, resident.id, now)
            session.add(
                ConsentEvent(
                    resident_id=resident.id,
                    state=Consent.REVOKED,
                    source="provider",
                    channel=channel,
                    message_id=message_id,
                    at=now,
                )
            )
    if unreachable:
        session.execute(
            update(Address)
            .where(Address.channel == channel, Address.value == address)
            .values(reachable=False)
            .execution_options(synchronize_session=False)
        )


def keep_early(session: Session, sid: str, status: str, code: int | None, now: datetime) -> None:
    """A callback for a message whose row is not written yet (the send is still being recorded): keep the furthest."""
    kept = session.get(EarlyStatus, sid, with_for_update=True)
    if kept is None:
        session.add(EarlyStatus(provider_id=sid, status=status, error_code=code, received_at=now))
    elif kept.status in may_follow(status):
        kept.status, kept.error_code, kept.received_at = status, code, now


def apply_early(session: Session, sid: str, now: datetime) -> None:
    """Apply (and forget) what a provider said about a message before its row existed."""
    kept = session.get(EarlyStatus, sid)
    if kept is not None:
        apply_status(session, sid, kept.status, kept.error_code, now)
        session.execute(delete(EarlyStatus).where(EarlyStatus.provider_id == sid))
