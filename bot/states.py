"""The states records move through, one StrEnum each (stored as their plain string values)."""

from __future__ import annotations

import enum


class Consent(enum.StrEnum):
    """A resident's consent: asked (pending), given (granted), refused at onboarding (declined), withdrawn (STOP)."""

    PENDING = "pending"
    GRANTED = "granted"
    DECLINED = "declined"
    REVOKED = "revoked"


class OutboxStatus(enum.StrEnum):
    """An outbox row: waiting, claimed by a worker, handed to the provider, or ended without a send."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class PollStatus(enum.StrEnum):
    """A poll: being written, taking answers, or closed."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class EventStatus(enum.StrEnum):
    """An event: being written, listed for residents, or cancelled (those coming are told)."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


class ItemStatus(enum.StrEnum):
    """An input item: received, under review, then an outcome (acted on or not adopted) that can be reopened."""

    RECEIVED = "received"
    UNDER_REVIEW = "under_review"
    ACTED_ON = "acted_on"
    NOT_ADOPTED = "not_adopted"


class DecisionStatus(enum.StrEnum):
    """A decision: a draft staff edit, or published (contributors told, on the public page)."""

    DRAFT = "draft"
    PUBLISHED = "published"


class ProposalState(enum.StrEnum):
    """A resident's proposal: waiting for staff, published (others can support it), merged into another, declined."""

    PENDING = "pending"
    PUBLISHED = "published"
    MERGED = "merged"
    DECLINED = "declined"


class DecisionStage(enum.StrEnum):
    """Where a published decision stands: published, work in progress, implemented, or changed (with why)."""

    PUBLISHED = "published"
    IN_PROGRESS = "in_progress"
    IMPLEMENTED = "implemented"
    CHANGED = "changed"
