"""Audiences: who a broadcast reaches, from a small expression ("language=es,vi area=94110 not-answered=poll")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Select, Table, and_, exists, func, select
from sqlalchemy.orm import Session

from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.states import Consent
from bot.store.engagement import Answer, Event, Poll, Rsvp
from bot.store.models import Address, Resident

ADDRESSES = cast(Table, Address.__table__)
RESIDENTS = cast(Table, Resident.__table__)
KEYS = ("language", "area", "channel", "tag", "answered", "not-answered", "rsvp")
NOT_SET = ("", "no", "false", "0", "null")


class AudienceError(ValueError):
    """The expression cannot be understood; the message says which term and why."""


@dataclass(frozen=True)
class Audience:
    """A parsed audience: every term must hold (values within a term are alternatives)."""

    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def describe(self) -> str:
        """The expression back, normalised."""
        return " ".join(f"{key}={','.join(values)}" for key, values in self.terms.items()) or "everyone who joined"


@dataclass(frozen=True)
class Recipient:
    """One resident a broadcast goes to, on one channel."""

    resident_id: int
    locale: str
    channel: str
    address: str
    timezone: str | None


def parse_audience(expression: str | None) -> Audience:
    """Parse `key=value[,value] …`; keys: language, area, channel, tag, answered, not-answered, rsvp."""
    terms: dict[str, tuple[str, ...]] = {}
    for term in (expression or "").split():
        key, sep, raw = term.partition("=")
        if not sep or key not in KEYS or not raw:
            raise AudienceError(f"{term!r}: use key=value with a key among {', '.join(KEYS)}")
        values = tuple(v for v in raw.split(",") if v)
        if key == "language" and (bad := [v for v in values if v not in SUPPORTED_LOCALES]):
            raise AudienceError(f"{term!r}: unknown languages {bad}; use {', '.join(SUPPORTED_LOCALES)}")
        terms[key] = values
    return Audience(terms)


def _poll_filter(session: Session, spec: str, negate: bool) -> Any:
    slug, _, question_part = spec.partition(":")
    poll_id = session.scalar(select(Poll.id).where(Poll.slug == slug))
    if poll_id is None:
        raise AudienceError(f"no poll {slug!r}")
    question, _, value = question_part.partition("=")
    conditions = [Answer.poll_id == poll_id, Answer.resident_id == RESIDENTS.c.id]
    if question:
        conditions.append(Answer.question == question)
    found: Any = exists().where(and_(*conditions))
    if value:
        # Answers are JSON ({"value": ...}); compare in Python-friendly text form on both databases.
        rows = session.execute(select(Answer.resident_id, Answer.value).where(*conditions[:1], *conditions[2:]))
        chosen = [rid for rid, stored in rows if _matches(stored.get("value"), value)]
        found = RESIDENTS.c.id.in_(chosen or [-1])
    return ~found if negate else found


def _matches(stored: Any, wanted: str) -> bool:
    if isinstance(stored, list):
        return wanted in [str(v) for v in stored]
    if isinstance(stored, bool):
        return wanted.lower() in (("yes", "true") if stored else ("no", "false"))
    return str(stored) == wanted


def _rsvp_filter(session: Session, spec: str) -> Any:
    slug, _, response = spec.partition(":")
    event_id = session.scalar(select(Event.id).where(Event.slug == slug))
    if event_id is None:
        raise AudienceError(f"no event {slug!r}")
    conditions = [Rsvp.event_id == event_id, Rsvp.resident_id == RESIDENTS.c.id]
    if response:
        conditions.append(Rsvp.response.in_(response.split("|")))
    return exists().where(and_(*conditions))


def recipient_query(session: Session, audience: Audience, default_locale: str) -> Select[Any]:
    """The audience as one query: resident id, locale, channel, address value, time zone (one row a resident)."""
    first_address = (
        select(ADDRESSES.c.resident_id, func.min(ADDRESSES.c.id).label("address_id"))
        .where(ADDRESSES.c.reachable.is_(True))
        .group_by(ADDRESSES.c.resident_id)
    )
    channels = audience.terms.get("channel")
    if channels:
        first_address = first_address.where(ADDRESSES.c.channel.in_(channels))
    chosen = first_address.subquery()
    locale = func.coalesce(RESIDENTS.c.locale, default_locale)
    query = (
        select(
            RESIDENTS.c.id,
            locale.label("locale"),
            ADDRESSES.c.channel,
            ADDRESSES.c.value,
            RESIDENTS.c.timezone,
        )
        .join(chosen, chosen.c.resident_id == RESIDENTS.c.id)
        .join(ADDRESSES, ADDRESSES.c.id == chosen.c.address_id)
        .where(RESIDENTS.c.consent == Consent.GRANTED)
        .order_by(RESIDENTS.c.id)
    )
    if languages := audience.terms.get("language"):
        query = query.where(locale.in_(languages))
    if areas := audience.terms.get("area"):
        query = query.where(func.lower(RESIDENTS.c.area).in_([a.lower() for a in areas]))
    for tag in audience.terms.get("tag", ()):
        # A tag is a field set on the resident (by a flow's set-field fields.NAME, or by staff): any value but no.
        value = func.lower(func.coalesce(RESIDENTS.c.fields[tag].as_string(), ""))
        query = query.where(value.not_in(NOT_SET))
    for spec in audience.terms.get("answered", ()):
        query = query.where(_poll_filter(session, spec, negate=False))
    for spec in audience.terms.get("not-answered", ()):
        query = query.where(_poll_filter(session, spec, negate=True))
    for spec in audience.terms.get("rsvp", ()):
        query = query.where(_rsvp_filter(session, spec))
    return query


def recipients(session: Session, audience: Audience, default_locale: str) -> list[Recipient]:
    """Everyone the audience names who has joined and can be reached: one recipient per resident."""
    rows = session.execute(recipient_query(session, audience, default_locale))
    return [Recipient(int(rid), str(loc), str(channel), str(value), tz) for rid, loc, channel, value, tz in rows]


def normalised(expression: str) -> str | None:
    """An audience expression in one canonical spelling (None when it does not parse)."""
    try:
        return parse_audience(expression).describe()
    except AudienceError:
        return None
