"""Triage of input items: status changes with reasons, tags, topic, assignment, publishing, replies to residents."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.orm import Session

from bot.engagement.forms import one_line
from bot.i18n.catalogs import Translator, _
from bot.program import Program
from bot.staff import audit
from bot.states import Consent, ItemStatus
from bot.store.engagement import InputItem, InputStatusChange
from bot.store.models import OutboxItem, Resident
from bot.store.outbox import notice_row, queue_once, reachable_address
from bot.store.staff import User

STATUSES = (ItemStatus.RECEIVED, ItemStatus.UNDER_REVIEW, ItemStatus.ACTED_ON, ItemStatus.NOT_ADOPTED)
STATUS_LABELS: dict[str, str] = {
    ItemStatus.RECEIVED: "Received",
    ItemStatus.UNDER_REVIEW: "Under review",
    ItemStatus.ACTED_ON: "Acted on",
    ItemStatus.NOT_ADOPTED: "Not adopted",
}
# received -> under review -> acted on | not adopted; an outcome can be reopened (back to under review).
TRANSITIONS: dict[str, frozenset[str]] = {
    ItemStatus.RECEIVED: frozenset({ItemStatus.UNDER_REVIEW}),
    ItemStatus.UNDER_REVIEW: frozenset({ItemStatus.ACTED_ON, ItemStatus.NOT_ADOPTED}),
    ItemStatus.ACTED_ON: frozenset({ItemStatus.UNDER_REVIEW}),
    ItemStatus.NOT_ADOPTED: frozenset({ItemStatus.UNDER_REVIEW}),
}
OUTCOMES = (ItemStatus.ACTED_ON, ItemStatus.NOT_ADOPTED)
KINDS = ("feedback", "event", "poll", "proposal")
MAX_TAGS = 12
MAX_TAG_LENGTH = 40
MAX_REASON = 1000
MAX_REPLY = 1000
REPLY_PURPOSE = "staff_reply"
REPLY_HEADER = _("Reply from the {program} team about #{ref}:")
OUTBOX = cast(Table, OutboxItem.__table__)


class TriageError(ValueError):
    """A triage action that cannot be done, with a message fit to show to staff."""


class TriageConflict(TriageError):
    """A change the item's present state does not allow (a status it cannot move to from where it is)."""


def find_item(session: Session, ref: int) -> InputItem:
    """The item with this reference (TriageError when there is none)."""
    item = session.scalars(select(InputItem).where(InputItem.ref == ref)).first()
    if item is None:
        raise TriageError(f"There is no item #{ref}.")
    return item


def check_reason(reason: str) -> str:
    """The reason for a status change, cleaned (TriageError when missing or too long)."""
    cleaned = one_line(reason)
    if not cleaned:
        raise TriageError("Give a reason for the change: residents and colleagues will see why.")
    if len(cleaned) > MAX_REASON:
        raise TriageError(f"The reason is too long (at most {MAX_REASON} characters).")
    return cleaned


def record_status(
    session: Session, item: InputItem, to_status: str, reason: str, actor: str, now: datetime
) -> InputStatusChange | None:
    """Move an item to a status whatever it was (decisions use this), keeping the history; None if unchanged."""
    if to_status not in STATUSES:
        raise TriageError(f"The status must be one of: {', '.join(STATUSES)}.")
    if item.status == to_status:
        return None
    change = InputStatusChange(
        item_id=item.id, from_status=item.status, to_status=to_status, reason=reason, actor=actor[:254], at=now
    )
    session.add(change)
    item.status, item.updated_at = to_status, now
    if to_status in OUTCOMES and item.responded_at is None:  # answered: the first outcome counts, a reopening not
        item.responded_at = now
    return change


def change_status(
    session: Session, item: InputItem, to_status: str, reason: str, actor: str, now: datetime
) -> InputStatusChange:
    """A staff change of status along the allowed path, with the reason given (recorded and audited)."""
    if to_status not in STATUSES:
        raise TriageError(f"The status must be one of: {', '.join(STATUSES)}.")
    allowed = TRANSITIONS[item.status] if item.status in TRANSITIONS else frozenset(STATUSES)
    if to_status not in allowed:
        choices = " or ".join(STATUS_LABELS[s].lower() for s in sorted(allowed)) or "nothing"
        raise TriageConflict(
            f"#{item.ref} is {STATUS_LABELS.get(item.status, item.status).lower()}: it can move to {choices}."
        )
    change = record_status(session, item, to_status, check_reason(reason), actor, now)
    assert change is not None
    audit.record(
        session,
        actor,
        "item.status",
        f"item:{item.ref}",
        now,
        to=to_status,
        reason=change.reason,
        **{"from": change.from_status},
    )
    return change


def history(session: Session, item: InputItem) -> list[InputStatusChange]:
    """The item's status changes, oldest first."""
    return list(
        session.scalars(
            select(InputStatusChange).where(InputStatusChange.item_id == item.id).order_by(InputStatusChange.id)
        )
    )


def normalise_tag(raw: str) -> str:
    """A tag as stored: lower case, words joined by "-", letters, digits, "-" and "_" (a tag of other signs only,
    "€", is kept as written); TriageError when blank."""
    spaced = re.sub(r"\s+", "-", unicodedata.normalize("NFC", raw).strip().lower())
    text = re.sub(r"-{2,}", "-", "".join(ch for ch in spaced if ch.isalnum() or ch in "-_")).strip("-_")
    text = text or spaced
    if not text:
        raise TriageError("A tag needs at least one letter or digit.")
    return text[:MAX_TAG_LENGTH]  # lower case can lengthen a word ("İ" is two characters after): never refused


def parse_tags(raw: str) -> list[str]:
    """Tags typed as a comma-separated list ("housing, follow up" -> ["housing", "follow-up"])."""
    return list(dict.fromkeys(normalise_tag(part) for part in raw.split(",") if part.strip()))


def set_tags(
    session: Session,
    item: InputItem,
    actor: str,
    now: datetime,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> list[str]:
    """Add and remove tags (normalised); the item's tags afterwards."""
    added = [normalise_tag(tag) for tag in add]
    removed = {normalise_tag(tag) for tag in remove}
    tags = [tag for tag in item.tags or [] if tag not in removed]
    tags += [tag for tag in added if tag not in tags]
    if len(tags) > MAX_TAGS:
        raise TriageError(f"An item has at most {MAX_TAGS} tags.")
    if tags != list(item.tags or []):
        item.tags, item.updated_at = tags, now  # a new list: JSON columns notice assignment, not mutation
        audit.record(session, actor, "item.tags", f"item:{item.ref}", now, added=added, removed=sorted(removed))
    return tags


def set_topic(session: Session, item: InputItem, topic: str, actor: str, now: datetime) -> None:
    """Change the item's topic (an empty topic clears it)."""
    cleaned = one_line(topic) or None
    if cleaned is not None and len(cleaned) > 64:
        raise TriageError("A topic has at most 64 characters.")
    if cleaned != item.topic:
        audit.record(session, actor, "item.topic", f"item:{item.ref}", now, to=cleaned, **{"from": item.topic})
        item.topic, item.updated_at = cleaned, now


def assign(session: Session, item: InputItem, user_id: int | None, actor: str, now: datetime) -> None:
    """Assign the item to an active user (None: to nobody)."""
    email = None
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.active:
            raise TriageError("Choose an active user to assign it to.")
        email = user.email
    if user_id != item.assigned_to_id:
        item.assigned_to_id, item.updated_at = user_id, now
        audit.record(session, actor, "item.assign", f"item:{item.ref}", now, to=email)


def set_publishable(session: Session, item: InputItem, publishable: bool, actor: str, now: datetime) -> None:
    """Whether the item's text may appear on the public page (never with the resident's identity)."""
    if publishable != item.publishable:
        item.publishable, item.updated_at = publishable, now
        audit.record(session, actor, "item.publishable", f"item:{item.ref}", now, publishable=publishable)


def reply_refusal(session: Session, item: InputItem) -> str | None:
    """Why staff cannot reply to the resident behind this item, or None when they can."""
    if item.resident_id is None:
        return "The resident behind this item is no longer known."
    if not item.may_contact:
        return "The resident did not agree to be contacted about this, so no reply can be sent."
    resident = session.get(Resident, item.resident_id)
    if resident is None:
        return "The resident behind this item is no longer known."
    if resident.consent == Consent.REVOKED:
        return "The resident has opted out of all messages (STOP), so no reply can be sent."
    if reachable_address(session, resident.id) is None:
        return "The resident cannot be reached on any channel any more."
    return None


def reply_text(item: InputItem, locale: str, program: str, text: str) -> str:
    """What the resident reads: a translated first line naming the program and the item, then the staff's words."""
    header = Translator(locale).gettext(REPLY_HEADER, program=program, ref=item.ref)
    return f"{header}\n{text}"


def reply(session: Session, item: InputItem, text: str, program: Program, actor: str, now: datetime) -> OutboxItem:
    """Queue a staff reply to the resident on their first reachable channel, in their language (outbox checks apply:
    consent and quiet hours at send time)."""
    cleaned = text.strip()
    if not cleaned:
        raise TriageError("Write the reply first.")
    if len(cleaned) > MAX_REPLY:
        raise TriageError(f"A reply has at most {MAX_REPLY} characters.")
    refusal = reply_refusal(session, item)
    if refusal:
        raise TriageError(refusal)
    resident = session.get(Resident, item.resident_id)
    address = reachable_address(session, item.resident_id) if item.resident_id else None
    assert resident is not None and address is not None
    prefix = f"staff-reply:{item.ref}:"
    sent_before = session.scalar(
        select(func.count())
        .select_from(OutboxItem)
        .where(_replies_to(item), OutboxItem.idempotency_key.startswith(prefix))
    )
    key = f"{prefix}{int(sent_before or 0) + 1}"
    locale = resident.locale_or(program.default_locale)
    row = notice_row(
        key, REPLY_PURPOSE, resident.id, address, reply_text(item, locale, program.name, cleaned), locale, now
    )
    if not queue_once(session, [row]):
        raise TriageError("Another reply to this item was queued at the same moment. Reload and try again.")
    audit.record(session, actor, "item.reply", f"item:{item.ref}", now, channel=address.channel, key=key)
    queued = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == key)).one()
    return queued


def _replies_to(item: InputItem) -> ColumnElement[bool]:
    """Where an item's replies are in the outbox: among its resident's rows. Indexed, unlike the key prefix (SQLite's
    LIKE cannot use the key's index), and the outbox grows with every broadcast."""
    return OutboxItem.resident_id == item.resident_id


def replies(session: Session, item: InputItem) -> list[OutboxItem]:
    """The staff replies queued for an item, oldest first."""
    if item.resident_id is None:  # forgotten residents' outbox rows are deleted with them
        return []
    return list(
        session.scalars(
            select(OutboxItem)
            .where(_replies_to(item), OutboxItem.idempotency_key.startswith(f"staff-reply:{item.ref}:"))
            .order_by(OutboxItem.id)
        )
    )
