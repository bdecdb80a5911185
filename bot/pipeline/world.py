"""What the router may know beyond the resident, read from the store: open polls, poll keywords, item status."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.conversation.keywords import (
    Keyword,
    is_status_request,
    match_check_in,
    match_keyword,
    match_status,
    match_support,
)
from bot.conversation.text import fold
from bot.conversation.views import CheckInView, EventView, PollView, World
from bot.engagement import proposals
from bot.engagement.compensation import ledger
from bot.engagement.compensation.offers import check_in_open
from bot.engagement.events.calendar import upcoming
from bot.engagement.feedback.items import item_decision, item_status, recent_items
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.engagement.residents import about_me
from bot.states import EventStatus, PollStatus
from bot.store.engagement import Event, Poll
from bot.store.models import Resident
from bot.store.prepared import Prepared

_POLLS = Prepared(
    select(Poll.slug, Poll.status, Poll.keywords, Poll.results_url, Poll.title)
    .where(Poll.status != bindparam("draft"))
    .order_by(Poll.opened_at.desc(), Poll.id.desc())
)


def read_world(
    session: Session, resident_id: int, text: str, now: datetime, page: Callable[[str], str | None] = lambda _: None
) -> World:
    """The open polls (newest first), every published poll's keywords, the status a STATUS message asks for, and
    what is held about the resident when MY DATA asks."""
    polls = _POLLS.run(session, {"draft": PollStatus.DRAFT})
    views = [
        (words, PollView(slug, status, POLL_FLOW_PREFIX + slug, url, title))
        for slug, status, words, url, title in polls
    ]
    keywords = {fold(word): view for words, view in views for word in words.values() if fold(word)}
    keyword = match_keyword(text)
    wants_events = keyword is Keyword.EVENTS
    resident = session.get(Resident, resident_id) if keyword is Keyword.MY_DATA else None
    held = about_me.summary(session, resident) if resident is not None else None
    ref = match_status(text)
    status = (ref, item_status(session, resident_id, ref)) if ref is not None else None
    decided = item_decision(session, resident_id, ref) if ref is not None else None
    decision = (decided[0], page(decided[1])) if decided is not None else None
    events = (
        tuple(
            EventView(e.id, e.title, e.place, e.starts_at, e.ends_at, e.timezone, e.description)
            for e in upcoming(session, now)
        )
        if wants_events
        else ()
    )
    recent = recent_items(session, resident_id) if is_status_request(text) else None
    opened = tuple(v for _, v in views if v.status == PollStatus.OPEN)
    code = match_check_in(text)
    arrived = _check_in(session, resident_id, code, now) if code is not None else None
    supported = match_support(text)
    backing = proposals.support_view(session, resident_id, supported) if supported is not None else None
    return World(opened, keywords, status, events, recent, decision, held, arrived, backing)


def _check_in(session: Session, resident_id: int, code: str, now: datetime) -> CheckInView:
    """The published event a check-in code names, and whether this resident can check in to it now."""
    event = session.scalars(
        select(Event).where(Event.checkin_code == code, Event.status == EventStatus.PUBLISHED)
    ).first()
    if event is None:
        return CheckInView(code)
    already = ledger.checked_in(session, event.id, resident_id)
    return CheckInView(code, event.id, event.title, check_in_open(event, now), already)
