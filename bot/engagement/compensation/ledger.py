"""The ledger: who qualified for which offer (checked in at an event, completed a poll), how they want to be paid,
and whether they were; erasure keeps each line's amount (finance must balance) without the person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.engagement.compensation.offers import Terms, offer_of
from bot.i18n.bidi import isolate
from bot.i18n.catalogs import Translator, _
from bot.i18n.negotiation import pick_text, text_direction
from bot.program import Program
from bot.states import Consent
from bot.store.compensation import CompensationEntry, CompensationOffer, EventCheckIn
from bot.store.engagement import Event, Poll
from bot.store.models import Resident
from bot.store.outbox import notice_row, queue_once, reachable_address

OWED = "owed"
PAID = "paid"
PAYOUT_QUESTION = "payout"  # the payout flow's question for the choice, and the one for where to send it
HANDLE_QUESTION = "payout_handle"
MAX_HANDLE = 120
REDACTED_HANDLE = "[where to send a payment, kept on the ledger]"
PAID_NOTICE = _("We have paid you {amount} for taking part in {what}. Thank you for your time!")


@dataclass(frozen=True, slots=True)
class Owed:
    """A new line of the ledger, as the resident is told of it: what they qualified for and how much."""

    entry_id: int
    terms: Terms
    what: dict[str, str]  # the poll's or event's title per language


def qualify(session: Session, offer: CompensationOffer, resident: Resident, channel: str, now: datetime) -> Owed | None:
    """Owe a resident an active offer, once; None when the offer has ended or they were owed it already."""
    if not offer.active:
        return None
    known = select(CompensationEntry.id).where(
        CompensationEntry.offer_id == offer.id, CompensationEntry.resident_id == resident.id
    )
    if session.scalar(known) is not None:
        return None
    entry = CompensationEntry(
        offer_id=offer.id,
        resident_id=resident.id,
        amount_minor=offer.amount_minor,
        currency=offer.currency,
        status=OWED,
        channel=channel,
        locale=resident.locale or "",
        area=resident.area,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return Owed(entry.id, Terms(entry.amount_minor, entry.currency), title_of(session, offer))


def title_of(session: Session, offer: CompensationOffer) -> dict[str, str]:
    """The title, per language, of what an offer pays for (its poll or its event)."""
    thing = session.get(Poll, offer.poll_id) if offer.poll_id is not None else session.get(Event, offer.event_id)
    return dict(thing.title) if thing is not None else {}


def check_in(
    session: Session, event: Event, resident: Resident, channel: str, now: datetime, actor: str | None = None
) -> tuple[bool, Owed | None]:
    """Record that a resident came (by the code they texted, or ticked by staff: actor); whether this is new, and
    what they are now owed, if the event pays."""
    known = select(EventCheckIn.id).where(EventCheckIn.event_id == event.id, EventCheckIn.resident_id == resident.id)
    if session.scalar(known) is not None:
        return False, None
    method = "code" if actor is None else "staff"
    session.add(EventCheckIn(event_id=event.id, resident_id=resident.id, method=method, actor=actor, at=now))
    offer = offer_of(session, event_id=event.id)
    return True, qualify(session, offer, resident, channel, now) if offer is not None else None


def checked_in(session: Session, event_id: int, resident_id: int) -> bool:
    """Whether a resident checked in at an event."""
    query = select(EventCheckIn.id).where(EventCheckIn.event_id == event_id, EventCheckIn.resident_id == resident_id)
    return session.scalar(query) is not None


def poll_completed(session: Session, poll: Poll, resident: Resident, channel: str, now: datetime) -> Owed | None:
    """A resident reached the end of an open poll: what they are owed, if it pays."""
    offer = offer_of(session, poll_id=poll.id)
    if offer is None or poll.status != "open":
        return None
    return qualify(session, offer, resident, channel, now)


def mark_asked(session: Session, entry_ids: list[int], now: datetime) -> None:
    """The resident was asked how they want to be paid for these lines."""
    if entry_ids:
        session.execute(update(CompensationEntry).where(CompensationEntry.id.in_(entry_ids)).values(asked_at=now))


def record_payout(session: Session, resident_id: int, question: str, value: Any) -> None:
    """The resident's answer to the payout conversation: their choice for every line they were asked about and have
    not chosen for, then where to send it (for a choice that needs it)."""
    owed = (CompensationEntry.resident_id == resident_id, CompensationEntry.status == OWED)
    if question == PAYOUT_QUESTION and isinstance(value, str) and value:
        chosen = update(CompensationEntry).where(
            *owed, CompensationEntry.asked_at.is_not(None), CompensationEntry.payout.is_(None)
        )
        session.execute(chosen.values(payout=value[:64]))
    elif question == HANDLE_QUESTION and isinstance(value, str) and value.strip():
        where = update(CompensationEntry).where(
            *owed, CompensationEntry.payout.is_not(None), CompensationEntry.payout_handle.is_(None)
        )
        session.execute(where.values(payout_handle=value.strip()[:MAX_HANDLE]))


def mark_paid(session: Session, entry_id: int, actor: str, now: datetime, program: Program) -> CompensationEntry | None:
    """Mark one owed line paid and tell the resident, in their language, on a channel that reaches them; None when
    there is no such owed line."""
    entry = session.get(CompensationEntry, entry_id)
    if entry is None or entry.status != OWED:
        return None
    entry.status, entry.paid_at, entry.paid_by = PAID, now, actor
    resident = session.get(Resident, entry.resident_id) if entry.resident_id is not None else None
    address = reachable_address(session, resident.id) if resident is not None else None
    if resident is not None and address is not None and resident.consent == Consent.GRANTED:
        locale = resident.locale_or(program.default_locale)
        offer = session.get(CompensationOffer, entry.offer_id)
        what = pick_text(title_of(session, offer), locale) if offer is not None else ""
        direction = text_direction(locale)
        amount = isolate(Terms(entry.amount_minor, entry.currency).text(locale), direction)
        text = Translator(locale).gettext(PAID_NOTICE, amount=amount, what=isolate(what, direction))
        queue_once(session, [notice_row(f"paid:{entry.id}", "compensation", resident.id, address, text, locale, now)])
    return entry


def unlink(session: Session, resident_id: int) -> int:
    """Erasure: every line of the resident kept for the accounts, without them or where to send their payment."""
    lines = update(CompensationEntry).where(CompensationEntry.resident_id == resident_id)
    return session.execute(lines.values(resident_id=None, payout_handle=None)).rowcount or 0  # type: ignore[attr-defined]


def exported(session: Session, resident_id: int) -> list[dict[str, Any]]:
    """The resident's lines, for their own data export."""
    query = select(CompensationEntry).where(CompensationEntry.resident_id == resident_id).order_by(CompensationEntry.id)
    return [
        {
            "amount": Terms(e.amount_minor, e.currency).text("en", sms=False),
            "status": e.status,
            "payout": e.payout,
            "payout_handle": e.payout_handle,
            "at": e.created_at.isoformat(),
            "paid_at": e.paid_at.isoformat() if e.paid_at else None,
        }
        for e in session.scalars(query)
    ]
