"""Compensation offers: what a poll or an event pays each resident who qualifies, written in their language; and
each event's check-in code (what attendees text: HERE 4821), open from a little before it starts to a day after."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import get_currency_precision, is_currency
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n.formatting import format_amount_for
from bot.store.compensation import CompensationOffer
from bot.store.engagement import Event

MAX_AMOUNT = Decimal(10_000)  # per resident per offer, in the currency's units: a typo guard, not a policy
CHECK_IN_OPENS = timedelta(hours=3)  # before the event starts
CHECK_IN_CLOSES = timedelta(hours=24)  # after it ends: people text on their way home
CODE_DIGITS = 4


class OfferError(ValueError):
    """An amount or a currency staff cannot attach (its message says what to write instead)."""


@dataclass(frozen=True, slots=True)
class Terms:
    """What an offer pays: an amount in the currency's smallest unit, and the currency."""

    amount_minor: int
    currency: str

    @property
    def units(self) -> Decimal:
        """The amount in the currency's units (25.00)."""
        return Decimal(self.amount_minor).scaleb(-get_currency_precision(self.currency))

    def text(self, locale: str, *, sms: bool = True) -> str:
        """The amount as a resident reads it in their language ("$25.00", "25,00 US$")."""
        return format_amount_for(self.amount_minor, self.currency, locale, sms=sms)


def parse_terms(amount: str, currency: str) -> Terms:
    """Staff's amount ("25", "25.50") and currency code ("USD"), checked; OfferError says what is wrong."""
    code = currency.strip().upper()
    if not is_currency(code):
        raise OfferError(f"{currency.strip()[:10]!r} is not a currency code; write one like USD or EUR.")
    try:
        value = Decimal(amount.strip().replace(",", ""))
    except InvalidOperation:
        raise OfferError("Write the amount as a number, like 25 or 25.50.") from None
    digits = get_currency_precision(code)
    if not value.is_finite() or value <= 0 or value > MAX_AMOUNT:
        raise OfferError(f"The amount must be more than 0 and at most {MAX_AMOUNT:,}.")
    minor = value.scaleb(digits)
    if minor != minor.to_integral_value():
        raise OfferError(f"{code} amounts have at most {digits} decimal places.")
    return Terms(int(minor), code)


def offer_of(session: Session, *, poll_id: int | None = None, event_id: int | None = None) -> CompensationOffer | None:
    """The offer attached to a poll or an event, active or not."""
    column = CompensationOffer.poll_id if poll_id is not None else CompensationOffer.event_id
    return session.scalars(select(CompensationOffer).where(column == (poll_id or event_id))).first()


def set_offer(
    session: Session,
    terms: Terms | None,
    actor: str,
    now: datetime,
    *,
    poll_id: int | None = None,
    event_id: int | None = None,
) -> CompensationOffer | None:
    """Attach, change (for those who qualify from now on) or end (terms None) the offer of a poll or an event."""
    offer = offer_of(session, poll_id=poll_id, event_id=event_id)
    if terms is None:
        if offer is not None:
            offer.active, offer.updated_at = False, now
        return offer
    if offer is None:
        offer = CompensationOffer(poll_id=poll_id, event_id=event_id, created_by=actor, created_at=now)
        session.add(offer)
    offer.amount_minor, offer.currency, offer.active, offer.updated_at = terms.amount_minor, terms.currency, True, now
    session.flush()
    return offer


def describe(offer: CompensationOffer | None) -> dict[str, Any] | None:
    """An offer as a staff page shows it: the amount written out, and as typed (units, currency); None when there is
    none or it ended."""
    if offer is None or not offer.active:
        return None
    terms = Terms(offer.amount_minor, offer.currency)
    return {"amount": terms.text("en", sms=False), "units": str(terms.units), "currency": offer.currency}


def check_in_code(session: Session, event: Event, rng: random.Random) -> str:
    """The event's check-in code, made the first time it is needed: digits no other event has, never starting with
    0 (read aloud, shown on a sign); a digit longer when the short ones run out."""
    if event.checkin_code:
        return event.checkin_code
    taken = set(session.scalars(select(Event.checkin_code).where(Event.checkin_code.is_not(None))))
    digits = CODE_DIGITS
    while True:
        free = 9 * 10 ** (digits - 1) - sum(1 for code in taken if code and len(code) == digits)
        if free > 0:
            break
        digits += 1
    while (code := str(rng.randrange(10 ** (digits - 1), 10**digits))) in taken:
        pass
    event.checkin_code = code
    session.flush()
    return code


def check_in_open(event: Event, now: datetime) -> bool:
    """Whether attendees can check in now: from CHECK_IN_OPENS before it starts to CHECK_IN_CLOSES after it ends."""
    return event.starts_at - CHECK_IN_OPENS <= now <= event.ends_at + CHECK_IN_CLOSES
