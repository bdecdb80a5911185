"""What the router sees and decides: the resident, their conversation, the world beyond them, and a turn."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.conversation.flows import engine
from bot.conversation.flows.schema import Flow
from bot.conversation.keywords import Keyword
from bot.i18n.formatting import format_event_time
from bot.i18n.negotiation import pick_text
from bot.messages import Reply


@dataclass(frozen=True, slots=True)
class ResidentView:
    """What the router may know of the resident."""

    consent: str
    locale: str
    area: str | None = None
    joined_before: bool = True  # False for someone who said STOP before ever agreeing to take part
    about_me_offered: bool = True  # False until they were first asked the questions about themselves


@dataclass(frozen=True, slots=True)
class SessionView:
    """The resident's active conversation, if any, and the poll it interrupted (resumed when it ends)."""

    flow: Flow
    node: str
    state: Mapping[str, Any]
    paused: SessionView | None = None


@dataclass(frozen=True, slots=True)
class PollView:
    """A poll as the router needs it: where its questions are and whether it can be answered."""

    slug: str
    status: str
    flow: str
    results_url: str | None = None
    title: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventView:
    """An upcoming event as the router lists it."""

    id: int
    title: Mapping[str, str]
    place: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    timezone: str
    description: Mapping[str, str] = field(default_factory=dict)

    def listing(self, locale: str, reader_zone: str | None) -> tuple[str, str, dict[str, str]]:
        """Its title, its line in a list (title and when, by format_event_time's rule) and the words said when it
        is picked: its {details} (description) and {place}."""
        title = pick_text(self.title, locale)
        when = format_event_time(
            self.starts_at, self.ends_at, locale, event_zone=self.timezone, reader_zone=reader_zone, sms=True
        )
        return (
            title,
            f"{title} - {when}",
            {"details": pick_text(self.description, locale), "place": pick_text(self.place, locale)},
        )


@dataclass(frozen=True, slots=True)
class DataSummary:
    """What is held about a resident, in counts (MY DATA): never their words, only what kinds and how many."""

    channels: tuple[str, ...]
    language: str | None
    area: str | None
    since: datetime | None
    messages: int
    answers: int
    items: int
    about_me: int


@dataclass(frozen=True, slots=True)
class CheckInView:
    """The event a check-in code names, as the router answers it: whether it can be checked in to now."""

    code: str
    event_id: int | None = None  # None: no event has this code (or none the resident may check in to)
    title: Mapping[str, str] = field(default_factory=dict)
    is_open: bool = False
    already: bool = False


@dataclass(frozen=True, slots=True)
class ProposalView:
    """The proposal a SUPPORT <number> message names: whether it can be supported, what it says, its supporters."""

    ref: int
    proposal_id: int | None = None  # None: no published proposal has this number
    text: str = ""
    supporters: int = 0
    already: bool = False


@dataclass(frozen=True, slots=True)
class World:
    """What exists beyond this resident, read by the pipeline before routing (the router does no I/O)."""

    open_polls: tuple[PollView, ...] = ()
    poll_keywords: Mapping[str, PollView] = field(default_factory=dict)
    item_status: tuple[int, str | None] | None = None
    events: tuple[EventView, ...] = ()
    recent_items: tuple[tuple[int, str], ...] | None = None  # (ref, status), newest first, when STATUS asked
    decision: tuple[Mapping[str, str], str | None] | None = None  # what decided the item STATUS asks about: title, page
    my_data: DataSummary | None = None  # what is held about the resident, when MY DATA asks
    check_in: CheckInView | None = None  # the event a HERE <code> message names
    support: ProposalView | None = None  # the proposal a SUPPORT <number> message names


@dataclass(frozen=True, slots=True)
class Turn:
    """Everything one inbound message causes; the pipeline carries it out in one transaction."""

    purpose: str
    replies: tuple[Reply, ...] = ()
    effects: tuple[engine.Effect, ...] = ()
    consent: str | None = None
    end_session: bool = False
    start_flow: str | None = None
    session_node: str | None = None
    session_state: dict[str, Any] = field(default_factory=dict)
    keyword: Keyword | None = None
    resume: bool = False


def started(step: engine.Step, flow: str, keyword: Keyword | None, effects: tuple[engine.Effect, ...] = ()) -> Turn:
    """The turn that opens a conversation a keyword asked for: its first replies, and the conversation kept open
    (unless it ended at once)."""
    return Turn(
        "reply",
        step.replies,
        effects=(*effects, *step.effects),
        end_session=step.ended,
        start_flow=None if step.ended else flow,
        session_node=step.node,
        session_state=step.state,
        keyword=keyword,
    )
