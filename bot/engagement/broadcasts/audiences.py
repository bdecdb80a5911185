"""Audiences: who a broadcast reaches, from a small expression ("language=es,vi area=94110 not-answered=poll")."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Select, Table, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import FlowError
from bot.conversation.text import fold
from bot.engagement import representation
from bot.engagement.areas import AreaBook
from bot.engagement.polls.definition import compile_poll
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.states import Consent
from bot.store.engagement import Answer, Event, Poll, Rsvp
from bot.store.models import Address, Resident

ADDRESSES = cast(Table, Address.__table__)
RESIDENTS = cast(Table, Resident.__table__)
KEYS = ("language", "area", "channel", "tag", "answered", "not-answered", "rsvp", "underrepresented")
NOT_SET = ("", "no", "false", "0", "null")


class AudienceError(ValueError):
    """The expression cannot be understood; the message says which term and why."""


@dataclass(frozen=True)
class Audience:
    """A parsed audience: every term must hold (values within a term are alternatives)."""

    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def describe(self) -> str:
        """The expression back, normalised (a value with spaces quoted: area="La Misión")."""
        return " ".join(f"{key}={_quoted(','.join(values))}" for key, values in self.terms.items()) or (
            "everyone who joined"
        )


def _quoted(value: str) -> str:
    return f'"{value}"' if any(ch.isspace() for ch in value) else value


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
    try:
        words = shlex.split(expression or "")  # area="La Misión": quotes keep a value with spaces together
    except ValueError as exc:
        raise AudienceError(f"{expression!r}: a quote is not closed") from exc
    for term in words:
        key, sep, raw = term.partition("=")
        if not sep or key not in KEYS or not raw:
            raise AudienceError(f"{term!r}: use key=value with a key among {', '.join(KEYS)}")
        values = tuple(v for v in raw.split(",") if v)
        if key == "language" and (bad := [v for v in values if v not in SUPPORTED_LOCALES]):
            raise AudienceError(f"{term!r}: unknown languages {bad}; use {', '.join(SUPPORTED_LOCALES)}")
        terms[key] = values
    return Audience(terms)


def _answers_of(document: dict[str, Any] | None) -> dict[str, tuple[str, ...] | None]:
    """A poll's question ids and the answer values an audience may name (None: free text, numbers, any)."""
    if not document:
        return {}
    try:
        nodes = compile_poll(document)[1]["nodes"].values()
    except FlowError:
        return {}
    values = {"ask-yes-no": ("yes", "no"), "ask-rating": tuple(str(n) for n in range(1, 6))}
    return {
        str(node["question"]): tuple(str(c["value"]) for c in node.get("choices", ())) or values.get(node["kind"])
        for node in nodes
        if node.get("question")
    }


def _check_answer(slug: str, document: dict[str, Any] | None, question: str, value: str) -> None:
    """An unknown question or answer is an error naming the valid ones, never an audience that matches nobody."""
    known = _answers_of(document)
    if question and known and question not in known:
        raise AudienceError(f"poll {slug!r} has no question {question!r}; its questions: {', '.join(known)}")
    allowed = known.get(question) if question else None
    if value and allowed is not None and value not in allowed:
        raise AudienceError(f"question {slug}:{question} has no answer {value!r}; its answers: {', '.join(allowed)}")


def _poll_filter(session: Session, spec: str, negate: bool) -> Any:
    slug, _, question_part = spec.partition(":")
    row = session.execute(select(Poll.id, Poll.document).where(Poll.slug == slug)).first()
    if row is None:
        raise AudienceError(f"no poll {slug!r}")
    poll_id = row.id
    question, _, value = question_part.partition("=")
    _check_answer(slug, row.document, question, value)
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


def _underrepresented(session: Session, slug: str) -> Any:
    """Residents of the groups a poll's representation report flags (by language, area or channel) who have not
    answered it: whom to invite again. Nobody when no group is flagged."""
    poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
    if poll is None:
        raise AudienceError(f"no poll {slug!r}")
    found = representation.report(session, poll)
    flagged = {d.dimension: [g.group for g in d.groups if g.flagged] for d in found.dimensions}
    groups: list[Any] = []
    if flagged.get("language"):
        groups.append(RESIDENTS.c.locale.in_(flagged["language"]))
    if flagged.get("area"):
        groups.append(RESIDENTS.c.area.in_(flagged["area"]))
    if flagged.get("channel"):
        on = select(ADDRESSES.c.id).where(ADDRESSES.c.resident_id == RESIDENTS.c.id)
        groups.append(exists(on.where(ADDRESSES.c.channel.in_(flagged["channel"]))))
    if not groups:
        return false()
    return and_(or_(*groups), _poll_filter(session, slug, negate=True))


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
        query = query.where(RESIDENTS.c.area.in_(_areas_named(session, areas)))
    for tag in audience.terms.get("tag", ()):
        # A tag is a field set on the resident (by a flow's set-field fields.NAME, or by staff): any value but no.
        value = func.lower(func.coalesce(RESIDENTS.c.fields[tag].as_string(), ""))
        query = query.where(value.not_in(NOT_SET))
    for spec in audience.terms.get("answered", ()):
        query = query.where(_poll_filter(session, spec, negate=False))
    for spec in audience.terms.get("not-answered", ()):
        query = query.where(_poll_filter(session, spec, negate=True))
    for slug in audience.terms.get("underrepresented", ()):
        query = query.where(_underrepresented(session, slug))
    for spec in audience.terms.get("rsvp", ()):
        query = query.where(_rsvp_filter(session, spec))
    return query


def given_areas(session: Session) -> list[str]:
    """The areas residents gave, most common first (what the dashboard offers)."""
    rows = session.execute(
        select(RESIDENTS.c.area, func.count())
        .where(RESIDENTS.c.area.is_not(None), RESIDENTS.c.area != "")
        .group_by(RESIDENTS.c.area)
        .order_by(func.count().desc(), RESIDENTS.c.area)
    )
    return [str(area) for area, _count in rows]


def _areas_named(session: Session, names: tuple[str, ...]) -> list[str]:
    """The areas as residents wrote them that the names stand for, whatever the case and accents ("la mision" is
    "La Misión"); a name no resident gave is an error listing those they did."""
    given = given_areas(session)
    book = AreaBook.read(session)
    # A program area's code, ZIP code, alias or name in any language stands for the name residents are filed under.
    matched = [area for area in map(book.match, names) if area is not None]
    wanted = {fold(str(word)) for area in matched for word in [area.code, *area.names.values()]}
    wanted |= {fold(name) for name in names}
    found = [area for area in given if fold(area) in wanted]
    missing = [name for name in names if book.match(name) is None and all(fold(area) != fold(name) for area in given)]
    if missing:
        shown = ", ".join(_quoted(area) for area in given[:12]) or "none yet"
        raise AudienceError(f"no resident gave the area {', '.join(map(repr, missing))}; areas given: {shown}")
    return found


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
