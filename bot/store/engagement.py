"""Models of what residents take part in: polls and their answers, input items (feedback), events and RSVPs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.states import DecisionStatus, EventStatus, ItemStatus, PollStatus
from bot.store.models import Base


class Poll(Base):
    """A poll: draft, then open, then closed; its questions live in the flow `poll-<slug>`."""

    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PollStatus.DRAFT)
    title: Mapped[dict[str, Any]]
    keywords: Mapped[dict[str, Any]] = mapped_column(default=dict)
    results_url: Mapped[str | None] = mapped_column(String(300))
    document: Mapped[dict[str, Any] | None]
    area_results: Mapped[bool] = mapped_column(Boolean, default=False)
    weight_by: Mapped[dict[str, Any] | None]  # {"dimensions": [...]}: what its results are weighted over
    created_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]


class Answer(Base):
    """One resident's answer to one poll question; a changed answer replaces the old one while the poll is open."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("poll_id", "resident_id", "question", name="uq_answers_poll_resident_question"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(String(64))
    value: Mapped[dict[str, Any]]
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    area: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InputItem(Base):
    """Something a resident said that staff should read and act on: feedback or an open poll answer."""

    __tablename__ = "input_items"
    __table_args__ = (Index("ix_input_items_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[int] = mapped_column(Integer, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("polls.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(64))
    may_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=ItemStatus.RECEIVED)
    channel: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(16))
    area: Mapped[str | None] = mapped_column(String(120))
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    publishable: Mapped[bool] = mapped_column(Boolean, default=False)
    respond_by: Mapped[datetime | None]  # a committed date; else created_at + the program's response days
    responded_at: Mapped[datetime | None] = mapped_column(index=True)  # first moved to an outcome
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InputStatusChange(Base):
    """One change of an input item's status, with the reason staff gave: the item's visible history."""

    __tablename__ = "input_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("input_items.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime]


class Event(Base):
    """A community event residents can RSVP to; texts per language."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[dict[str, Any]]
    place: Mapped[dict[str, Any]]
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    capacity: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PUBLISHED)
    checkin_code: Mapped[str | None] = mapped_column(String(8), unique=True)  # what attendees text: HERE 4821
    created_at: Mapped[datetime]


class Rsvp(Base):
    """A resident's answer to an event: yes, no or maybe; yes beyond capacity waits on the waitlist."""

    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("event_id", "resident_id", name="uq_rsvps_event_resident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"), index=True)
    response: Mapped[str] = mapped_column(String(8))
    waitlisted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Broadcast(Base):
    """A message to an audience, one text per language; its outbox rows carry purpose "broadcast:<id>"."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    texts: Mapped[dict[str, Any]]
    audience: Mapped[str] = mapped_column(String(500), default="")
    invite: Mapped[dict[str, Any]] = mapped_column(default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    fallback_locale: Mapped[str | None] = mapped_column(String(16))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    send_at: Mapped[datetime]
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """Who did what, when: every staff action (sign-ins, content, broadcasts, triage, decisions, users)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(120))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(index=True)


class Decision(Base):
    """You said, we did: what was decided, what changed because of community input, what was not and why."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[dict[str, Any]]
    summary: Mapped[dict[str, Any]]
    changed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    not_adopted: Mapped[dict[str, Any]] = mapped_column(default=dict)
    decided_by: Mapped[str] = mapped_column(String(300), default="")
    partners: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=DecisionStatus.DRAFT)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    stage: Mapped[str | None] = mapped_column(
        String(16)
    )  # once published: published, in_progress, implemented, changed
    implemented_at: Mapped[datetime | None]
    checked_back_at: Mapped[datetime | None]  # when contributors were asked whether it happened
    co_decided: Mapped[bool] = mapped_column(Boolean, default=False)  # published only once every co-owner signed off


class DecisionSignOff(Base):
    """A co-owning partner organization's sign-off on a co-decided decision (cleared when the draft changes)."""

    __tablename__ = "decision_sign_offs"
    __table_args__ = (
        UniqueConstraint("decision_id", "organization_id", name="uq_decision_sign_offs_decision_organization"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime]


class DecisionStageChange(Base):
    """One move of a published decision (in progress, implemented, changed and why): its visible timeline."""

    __tablename__ = "decision_stage_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    why: Mapped[dict[str, Any]] = mapped_column(default=dict)  # per language; for "changed"
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime]


class DecisionCheckBack(Base):
    """A contributor's answer, some days after a decision was implemented, to "Did this happen?"."""

    __tablename__ = "decision_check_backs"
    __table_args__ = (UniqueConstraint("decision_id", "resident_id", name="uq_decision_check_backs_decision_resident"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("residents.id", ondelete="SET NULL"), index=True)
    answer: Mapped[str] = mapped_column(String(8))  # yes, partly, no
    locale: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]


class DecisionLink(Base):
    """Input that shaped a decision: an input item (acted on or not adopted) or a poll's results."""

    __tablename__ = "decision_links"
    __table_args__ = (
        UniqueConstraint("decision_id", "input_item_id", name="uq_decision_links_decision_item"),
        UniqueConstraint("decision_id", "poll_id", name="uq_decision_links_decision_poll"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("decisions.id", ondelete="CASCADE"), index=True)
    input_item_id: Mapped[int | None] = mapped_column(ForeignKey("input_items.id", ondelete="CASCADE"), index=True)
    poll_id: Mapped[int | None] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="acted_on")
