"""Broadcasts: a text per language to an audience, previewed (segments, encoding, cost) and queued in the outbox."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, null, select
from sqlalchemy.orm import Session

from bot.channels.render import render
from bot.channels.segments import analyse
from bot.conversation.flows.schema import FlowError, flag
from bot.engagement.broadcasts.audiences import Audience, recipient_query, recipients
from bot.engagement.broadcasts.whatsapp_windows import WhatsAppLanguage, missing_templates, whatsapp_languages
from bot.engagement.forms import language_name
from bot.i18n.catalogs import Translator, _
from bot.i18n.negotiation import SUPPORTED_LOCALES, text_direction
from bot.messages import Address, Channel, Reply
from bot.staff import audit
from bot.store.engagement import Broadcast, Event, Poll
from bot.store.models import Message, OutboxItem
from bot.store.outbox import queue_selected

INVITES = {
    "poll": _("Reply POLL to answer."),
    "event": _("Reply EVENTS to tell us if you will come."),
}
PURPOSE_PREFIX = "broadcast:"
MAX_NAME = 120  # a broadcast's name, as its column holds
LONGEST_AHEAD = timedelta(days=366)  # the latest a broadcast may be scheduled, from now


@dataclass(frozen=True)
class BroadcastFile:
    """A broadcast as written: a name, texts per language, an optional invitation, urgency."""

    name: str
    texts: dict[str, str]
    invite: dict[str, str]
    urgent: bool


def parse_broadcast(document: dict[str, Any]) -> BroadcastFile:
    """Check a broadcast file (`{name, text: {en: …}, invite: {poll: slug} | {event: slug}, urgent}`)."""
    name = document.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise FlowError(f"broadcast: name must be 1 to {MAX_NAME} characters")
    texts = document.get("text")
    if not isinstance(texts, dict) or not texts or not all(isinstance(v, str) and v.strip() for v in texts.values()):
        raise FlowError(f"broadcast {name!r}: text must map languages to texts")
    unknown = sorted(k for k in texts if k not in SUPPORTED_LOCALES)
    if unknown:
        raise FlowError(f"broadcast {name!r}: unknown languages {unknown}")
    invite = document.get("invite") or {}
    if not isinstance(invite, dict) or any(k not in INVITES for k in invite) or len(invite) > 1:
        raise FlowError(f"broadcast {name!r}: invite is {{poll: slug}} or {{event: slug}}")
    return BroadcastFile(
        name,
        {str(k): str(v) for k, v in texts.items()},
        dict(invite),
        flag(document.get("urgent"), f"broadcast {name!r}: urgent"),
    )


def missing_invite(session: Session, invite: dict[str, str]) -> str | None:
    """What is wrong with an invitation to a poll or event that does not exist (None when it does, or there is none)."""
    for kind, slug in invite.items():
        table = Poll if kind == "poll" else Event
        if session.scalars(select(table.id).where(table.slug == slug)).first() is None:
            return f"there is no {kind} {slug!r} to invite to"
    return None


def compose(broadcast: BroadcastFile, locale: str) -> str:
    """The broadcast's text in one language, with the invitation line in that language."""
    text = broadcast.texts[locale]
    for kind in broadcast.invite:
        text = f"{text}\n{Translator(locale).gettext(INVITES[kind])}"
    return text


@dataclass
class LanguagePreview:
    """What one language's recipients get, and what it costs by SMS."""

    locale: str
    text: str
    recipients: Counter[str] = field(default_factory=Counter)
    encoding: str = ""
    segments: int = 0
    forcing_ucs2: tuple[str, ...] = ()
    cost: float = 0.0


@dataclass
class Preview:
    """Recipients per language and channel, SMS segments and cost, and what is missing."""

    audience: str
    total: int
    languages: list[LanguagePreview]
    missing: dict[str, int]
    cost: float
    zones: Counter[str | None] = field(default_factory=Counter)  # recipients by time zone (None: not known)
    whatsapp: list[WhatsAppLanguage] = field(default_factory=list)  # the 24-hour window, per language


def preview(
    session: Session,
    broadcast: BroadcastFile,
    audience: Audience,
    default_locale: str,
    price_per_segment: float,
    fallback: str | None = None,
    *,
    at: datetime | None = None,
) -> Preview:
    """Who would get it and what SMS would cost, after smart encoding, and which WhatsApp recipients are outside
    their 24-hour window when it goes (`at`; without it, every one is counted outside), before anything is
    queued."""
    found = recipients(session, audience, default_locale)
    by_locale: dict[str, LanguagePreview] = {}
    missing: Counter[str] = Counter()
    zones: Counter[str | None] = Counter(recipient.timezone for recipient in found)
    for recipient in found:
        locale = _text_locale(broadcast, recipient.locale, fallback)
        if locale is None:
            missing[recipient.locale] += 1
            continue
        entry = by_locale.get(locale)
        if entry is None:
            entry = by_locale[locale] = LanguagePreview(locale, compose(broadcast, locale))
            sms = render(Reply(entry.text), Address(Channel.SMS, "+10000000000")).text
            cost = analyse(sms)
            entry.encoding, entry.segments, entry.forcing_ucs2 = cost.encoding, cost.segments, cost.ucs2_characters
        entry.recipients[recipient.channel] += 1
    total_cost = 0.0
    for entry in by_locale.values():
        entry.cost = round(entry.recipients["sms"] * entry.segments * price_per_segment, 4)
        total_cost += entry.cost
    return Preview(
        audience.describe(),
        len(found),
        sorted(by_locale.values(), key=lambda e: e.locale),
        dict(missing),
        round(total_cost, 4),
        zones,
        whatsapp_languages(session, found, at),
    )


def _text_locale(broadcast: BroadcastFile, locale: str, fallback: str | None) -> str | None:
    if locale in broadcast.texts:
        return locale
    return fallback if fallback in broadcast.texts else None


def enqueue(
    session: Session,
    broadcast: BroadcastFile,
    audience: Audience,
    default_locale: str,
    send_at: datetime,
    now: datetime,
    fallback: str | None = None,
) -> tuple[Broadcast, int]:
    """Store the broadcast and one outbox row per recipient, keyed by (broadcast, resident)."""
    row = Broadcast(
        name=broadcast.name,
        texts=broadcast.texts,
        audience=audience.describe(),
        invite=broadcast.invite,
        urgent=broadcast.urgent,
        fallback_locale=fallback,
        recipients=0,
        send_at=send_at,
        created_at=now,
    )
    session.add(row)
    session.flush()
    purpose = f"{PURPOSE_PREFIX}{row.id}"
    # One INSERT … SELECT: the database resolves the audience and picks each row's text from the few rendered
    # ones (per language and channel), so 100,000 recipients never pass through Python one by one.
    found = recipient_query(session, audience, default_locale).subquery()
    arms = []
    for locale in SUPPORTED_LOCALES:
        chosen = _text_locale(broadcast, locale, fallback)
        if chosen is None:
            continue
        reply = Reply(compose(broadcast, chosen), (), text_direction(chosen))
        for channel in Channel:
            rendered = render(reply, Address(channel, "+10000000000")).text
            arms.append((and_(found.c.locale == locale, found.c.channel == channel.value), literal(rendered)))
    if not arms:
        return row, 0
    text = case(*arms, else_=null())
    count = queue_selected(session, purpose, found, text, broadcast.urgent, send_at, now)
    row.recipients = count
    return row, count


class NotSent(ValueError):
    """A broadcast that cannot go as asked, with a message fit for staff (and the preview when there is one)."""

    def __init__(self, message: str, found: Preview | None = None) -> None:
        super().__init__(message)
        self.found = found


def send_time_problem(send_at: datetime, now: datetime) -> str | None:
    """The one rule for when a broadcast may go: not in the past (this minute still counts as now), and not more than
    LONGEST_AHEAD from now (a year like 9999 is a typo, and has no room to be stored in UTC)."""
    if send_at < now.replace(second=0, microsecond=0):
        return "The send time has passed: choose a later time, or send now."
    if send_at - now > LONGEST_AHEAD:
        return "The send time is more than a year ahead: choose a time within the next year."
    return None


def send(
    session: Session,
    broadcast: BroadcastFile,
    audience: Audience,
    when: tuple[datetime, datetime],
    program: tuple[str, float],
    actor: str,
    fallback: str | None = None,
) -> tuple[Broadcast, int]:
    """Queue a broadcast, the one way the dashboard and the CLI do: when = (send at, now), program = (default
    language, SMS price per segment); NotSent when the time is wrong, some recipients' languages have no text, or
    WhatsApp recipients outside their window have no template in their language; audited."""
    send_at, now = when
    default_locale, price = program
    problem = send_time_problem(send_at, now)
    if problem:
        raise NotSent(problem)
    found = preview(session, broadcast, audience, default_locale, price, fallback, at=max(send_at, now))
    if found.missing:
        lacking = ", ".join(f"{language_name(k)}: {n}" for k, n in sorted(found.missing.items()))
        raise NotSent(f"Some recipients' languages have no text ({lacking}): write it, or choose a fallback.", found)
    if problem := missing_templates(found.whatsapp):
        raise NotSent(problem, found)
    row, count = enqueue(session, broadcast, audience, default_locale, send_at, now, fallback)
    audit.record(
        session,
        actor,
        "broadcast.send.urgent" if broadcast.urgent else "broadcast.send",
        f"broadcast:{row.id}",
        now,
        name=broadcast.name,
        audience=audience.describe(),
        recipients=count,
        send_at=send_at.isoformat(),
        urgent=broadcast.urgent,
        fallback=fallback or "",
    )
    return row, count


def status(session: Session, broadcast_id: int) -> dict[str, Any]:
    """Counts by outbox status, the reasons rows were skipped or held, and the messages' delivery statuses."""
    purpose = f"{PURPOSE_PREFIX}{broadcast_id}"
    by_status = dict(
        session.execute(
            select(OutboxItem.status, func.count()).where(OutboxItem.purpose == purpose).group_by(OutboxItem.status)
        ).all()
    )
    reasons = dict(
        session.execute(
            select(OutboxItem.last_error, func.count())
            .where(OutboxItem.purpose == purpose, OutboxItem.last_error.is_not(None))
            .group_by(OutboxItem.last_error)
        ).all()
    )
    delivery = dict(
        session.execute(
            select(Message.status, func.count())
            .join(OutboxItem, OutboxItem.message_id == Message.id)
            .where(OutboxItem.purpose == purpose)
            .group_by(Message.status)
        ).all()
    )
    row = session.get(Broadcast, broadcast_id)
    about = {"name": row.name, "urgent": row.urgent, "send_at": row.send_at.isoformat()} if row is not None else {}
    return {"broadcast": about, "outbox": by_status, "reasons": reasons, "delivery": delivery}
