"""Broadcast composing for the dashboard: form fields -> a checked broadcast, audience, send time and fallback."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import FlowError
from bot.engagement.broadcasts.audiences import Audience, AudienceError, given_areas, parse_audience
from bot.engagement.broadcasts.sending import (
    MAX_NAME,
    BroadcastFile,
    missing_invite,
    parse_broadcast,
    send_time_problem,
)
from bot.engagement.forms import form_field, one_line
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.messages import Channel
from bot.staff import sharing
from bot.states import EventStatus, PollStatus
from bot.store.engagement import Event, Poll

URGENT_ROLES = ("admin", "staff")
HELPER_KEYS = {"help_language": "language", "help_area": "area", "help_channel": "channel", "help_answered": "answered"}
AUDIENCE_SYNTAX = (
    ("language=es,vi", "residents who use Spanish or Vietnamese"),
    ("area=94110", "residents who gave that ZIP code or neighborhood"),
    ("channel=sms", "residents reachable by SMS (or telegram)"),
    ("answered=POLL", "residents who answered a poll; answered=POLL:QUESTION=VALUE for one answer"),
    ("not-answered=POLL", "residents who have not answered a poll"),
    ("rsvp=EVENT:yes", "residents who answered an event (yes, no, maybe; yes|maybe for either)"),
    ("underrepresented=POLL", "residents of the groups a poll's representation report flags who have not answered it"),
    ("tag=NAME", "residents with that field set"),
)


@dataclass
class BroadcastDraft:
    """A broadcast as the form holds it: the texts are carried from preview to send unchanged."""

    name: str = ""
    texts: dict[str, str] = field(default_factory=dict)
    audience: str = ""
    invite: str = ""
    urgent: bool = False
    send_at: str = ""
    fallback: str = ""


@dataclass(frozen=True)
class Composed:
    """A checked broadcast, ready to preview or queue."""

    message: BroadcastFile
    audience: Audience
    send_at: datetime
    fallback: str | None


class NotAllowed(Exception):
    """The person may not send this (an audience not shared with a partner, or urgency without the role)."""


def draft_from_form(form: Mapping[str, Any]) -> BroadcastDraft:
    """Read the compose form (`name`, `text.es`, `audience`, `invite`, `urgent`, `send_at`, `fallback`)."""
    texts = {locale: form_field(form, f"text.{locale}", 1600) for locale in SUPPORTED_LOCALES}
    return BroadcastDraft(
        name=form_field(form, "name", MAX_NAME),
        texts={locale: text for locale, text in texts.items() if text},
        audience=one_line(form_field(form, "audience", 500)),
        invite=form_field(form, "invite", 80),
        urgent=bool(form.get("urgent")),
        send_at=form_field(form, "send_at", 32),
        fallback=form_field(form, "fallback", 16),
    )


def add_helper_terms(draft: BroadcastDraft, form: Mapping[str, Any]) -> None:
    """Add what the helper selects name to the audience (a value for a key already there joins its list)."""
    try:
        terms = {key: list(values) for key, values in parse_audience(draft.audience).terms.items()}
    except AudienceError:
        return  # the expression is shown again as typed, with what is wrong with it; nothing is added to it
    for name, key in HELPER_KEYS.items():
        value = form_field(form, name, 100)
        if value and "," not in value and value not in terms.get(key, []):
            terms.setdefault(key, []).append(value)
    chosen = {key: tuple(values) for key, values in terms.items() if values}
    draft.audience = Audience(chosen).describe() if chosen else ""


def shared_audiences(session: Session, organization_id: int | None) -> list[str]:
    """The audience expressions shared with an organization, as written when shared."""
    return sorted(sharing.shared_with(session, organization_id).get("audience", set()))


def check_allowed(session: Session, draft: BroadcastDraft, role: str, viewer: sharing.Viewer) -> None:
    """NotAllowed for urgency without the role, or a partner's audience not shared with their organization."""
    if draft.urgent and role not in URGENT_ROLES:
        raise NotAllowed("Only staff and admins may send urgent broadcasts.")
    if not sharing.may_see(session, viewer, "audience", draft.audience):
        raise NotAllowed("This audience is not shared with your organization.")


def _invite(session: Session, raw: str) -> tuple[dict[str, str], str | None]:
    if not raw:
        return {}, None
    kind, _, slug = raw.partition(":")
    if kind in ("poll", "event") and not missing_invite(session, {kind: slug}):
        return {kind: slug}, None
    return {}, "Choose the poll or event to invite to from the list."


def _send_at(raw: str, zone: str, now: datetime) -> tuple[datetime, str | None]:
    if not raw:
        return now, None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        return now, "Give the send time as a date and time (e.g. 2026-12-01T09:00), or leave it empty to send now."
    moment = local.replace(tzinfo=ZoneInfo(zone)) if local.tzinfo is None else local
    problem = send_time_problem(moment, now)
    return (now, problem) if problem else (moment, None)


def send_moment(raw: str, zone: str, now: datetime) -> datetime:
    """When a draft would go out: its send time in the program's zone, or now (also when the time is not valid)."""
    return _send_at(raw, zone, now)[0]


def compose(session: Session, draft: BroadcastDraft, zone: str, now: datetime) -> tuple[Composed | None, list[str]]:
    """The checked broadcast, or the problems with the draft (each said so staff can fix it)."""
    problems = []
    if not draft.name:
        problems.append("Give the broadcast a name (staff see it; residents do not).")
    if not draft.texts:
        problems.append("Write the message in at least one language.")
    try:
        audience = parse_audience(draft.audience)
    except AudienceError as exc:
        problems.append(f"Audience: {exc}.")
        audience = Audience()
    invite, problem = _invite(session, draft.invite)
    if problem:
        problems.append(problem)
    send_at, problem = _send_at(draft.send_at, zone, now)
    if problem:
        problems.append(problem)
    if draft.fallback and draft.fallback not in draft.texts:
        problems.append("The fallback language must be one the message is written in.")
    if problems:
        return None, problems
    try:
        message = parse_broadcast({"name": draft.name, "text": draft.texts, "invite": invite, "urgent": draft.urgent})
    except FlowError as exc:
        return None, [str(exc)]
    return Composed(message, audience, send_at, draft.fallback or None), []


def helper_choices(session: Session, now: datetime) -> dict[str, list[str]]:
    """What the audience helper and the invitation offer: areas, channels, polls and upcoming events."""
    return {
        # The areas residents gave (a comma would split the value: such areas are left to the expression itself).
        "areas": sorted(area for area in given_areas(session)[:50] if "," not in area),
        "channels": [channel.value for channel in Channel],
        "polls": list(session.scalars(select(Poll.slug).order_by(Poll.slug))),
        "open_polls": list(
            session.scalars(select(Poll.slug).where(Poll.status == PollStatus.OPEN).order_by(Poll.slug))
        ),
        "events": list(
            session.scalars(
                select(Event.slug)
                .where(Event.status == EventStatus.PUBLISHED, Event.ends_at > now)
                .order_by(Event.starts_at)
            )
        ),
    }
