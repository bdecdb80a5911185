"""The ledger as staff and finance read it: every line (what for, how much, how the resident wants it, paid or
not), totals by area, language and channel, and who is paid against the population (groups as the representation
report counts them, never a person's answers about themselves)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.engagement.compensation.ledger import OWED, PAID
from bot.engagement.compensation.offers import Terms
from bot.engagement.residents import about_me
from bot.i18n.formatting import format_amount_for
from bot.i18n.negotiation import pick_text
from bot.store.compensation import CompensationEntry, CompensationOffer
from bot.store.engagement import Event, Poll

DIMENSIONS = ("area", "language", "channel")
CSV_HEADER = (
    "line",
    "resident",
    "for",
    "kind",
    "amount",
    "currency",
    "status",
    "payout",
    "payout_handle",
    "channel",
    "language",
    "area",
    "owed_since",
    "paid_at",
    "paid_by",
)


@dataclass(frozen=True, slots=True)
class Line:
    """One line of the ledger, for a page or a spreadsheet."""

    id: int
    resident_id: int | None
    what: str
    kind: str  # "poll" or "event"
    slug: str
    amount_minor: int
    currency: str
    status: str
    payout: str | None
    payout_handle: str | None
    channel: str
    locale: str
    area: str | None
    created_at: datetime
    paid_at: datetime | None
    paid_by: str | None

    @property
    def amount(self) -> str:
        """The amount as staff read it ("$25.00")."""
        return format_amount_for(self.amount_minor, self.currency, "en")

    def csv_row(self) -> tuple[Any, ...]:
        """The line as CSV_HEADER names its columns (amounts in the currency's units, times in UTC)."""
        return (
            self.id,
            self.resident_id or "erased",
            self.what,
            self.kind,
            str(Terms(self.amount_minor, self.currency).units),
            self.currency,
            self.status,
            self.payout or "",
            self.payout_handle or "",
            self.channel,
            self.locale,
            self.area or "",
            self.created_at.isoformat(),
            self.paid_at.isoformat() if self.paid_at else "",
            self.paid_by or "",
        )


@dataclass(slots=True)
class Total:
    """One group's people and money, owed and paid, per currency."""

    group: str
    people: set[int | str] = field(default_factory=set)
    owed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    paid: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, line: Line) -> None:
        """Count a line: its person (an erased one by the line) and its money, owed or paid."""
        self.people.add(line.resident_id if line.resident_id is not None else f"line:{line.id}")
        (self.paid if line.status == PAID else self.owed)[line.currency] += line.amount_minor

    def text(self, status: str) -> str:
        """The owed or paid money, each currency written as staff read it ("$75.00", or "$75.00 + €20.00")."""
        money = self.owed if status == OWED else self.paid
        return " + ".join(format_amount_for(n, c, "en") for c, n in sorted(money.items()) if n) or "-"


def lines(session: Session, locale: str, status: str | None = None, offer_id: int | None = None) -> list[Line]:
    """Every line, the newest first (only those owed or paid, or of one offer, when asked)."""
    query = (
        select(CompensationEntry, CompensationOffer, Poll.slug, Poll.title, Event.slug, Event.title)
        .join(CompensationOffer, CompensationOffer.id == CompensationEntry.offer_id)
        .outerjoin(Poll, Poll.id == CompensationOffer.poll_id)
        .outerjoin(Event, Event.id == CompensationOffer.event_id)
        .order_by(CompensationEntry.id.desc())
    )
    if status in (OWED, PAID):
        query = query.where(CompensationEntry.status == status)
    if offer_id is not None:
        query = query.where(CompensationEntry.offer_id == offer_id)
    found = []
    for entry, offer, poll_slug, poll_title, event_slug, event_title in session.execute(query):
        kind, slug, title = ("poll", poll_slug, poll_title) if offer.poll_id else ("event", event_slug, event_title)
        found.append(
            Line(
                entry.id,
                entry.resident_id,
                pick_text(title or {}, locale),
                kind,
                slug or "",
                entry.amount_minor,
                entry.currency,
                entry.status,
                entry.payout,
                entry.payout_handle,
                entry.channel,
                entry.locale,
                entry.area,
                entry.created_at,
                entry.paid_at,
                entry.paid_by,
            )
        )
    return found


def totals(found: list[Line]) -> dict[str, list[Total]]:
    """People and money by area, language and channel (a person paid twice counted once; an erased one by line)."""
    by: dict[str, dict[str, Total]] = {dimension: {} for dimension in DIMENSIONS}
    for line in found:
        for dimension, group in zip(DIMENSIONS, (line.area, line.locale, line.channel), strict=True):
            by[dimension].setdefault(group or "not known", Total(group or "not known")).add(line)
    return {d: sorted(groups.values(), key=lambda t: (-len(t.people), t.group)) for d, groups in by.items()}


def overall(found: list[Line]) -> Total:
    """Everyone's people and money together."""
    total = Total("all")
    for line in found:
        total.add(line)
    return total


def payees(session: Session, found: list[Line]) -> dict[int, dict[str, str]]:
    """Everyone owed or paid, once each, in the representation report's groups: their language, area and channel
    when they qualified, and what they said about themselves (counted, never shown per person)."""
    who: dict[int, dict[str, str]] = {}
    for line in sorted(found, key=lambda line: line.id):
        key = line.resident_id if line.resident_id is not None else -line.id
        who.setdefault(key, {"language": line.locale, "area": line.area or "", "channel": line.channel})
    for resident_id, groups in about_me.groups(session, select(CompensationEntry.resident_id).distinct()).items():
        if resident_id in who:
            who[resident_id].update(groups)
    return who
