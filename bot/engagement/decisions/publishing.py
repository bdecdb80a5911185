"""You said, we did: decisions, the input behind them, and publishing (items moved, every contributor told once)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.engagement.decisions import co_decision
from bot.engagement.decisions.notices import contributor_refs, notice_text, recipients
from bot.engagement.feedback.triage import OUTCOMES, find_item, record_status
from bot.engagement.forms import one_line
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.engagement.polls.public_results import PollAnswers, results_line, tally_poll
from bot.i18n.negotiation import SUPPORTED_LOCALES, pick_text
from bot.program import Program
from bot.staff import audit
from bot.states import DecisionStage, DecisionStatus, ItemStatus
from bot.store.engagement import Answer, Decision, DecisionLink, InputItem, Poll
from bot.store.flow_registry import FlowRegistry
from bot.store.outbox import notice_row, queue_once

TEXT_FIELDS = ("title", "summary", "changed", "not_adopted")
LIMITS = {"title": 200, "summary": 320, "changed": 3000, "not_adopted": 3000}
MAX_PARTNERS = 12
RESERVED_SLUGS = frozenset({"new"})  # /dashboard/decisions/new is the form


class DecisionError(ValueError):
    """A decision that cannot be saved, linked or published as asked, with a message fit to show to staff."""


class NotSignedOff(DecisionError):
    """A co-decided decision cannot be published yet: a co-owner has not signed off."""


@dataclass
class DecisionFields:
    """What staff write: texts per language, who decided, partner organizations."""

    texts: dict[str, dict[str, str]] = field(default_factory=dict)
    decided_by: str = ""
    partners: list[str] = field(default_factory=list)
    slug: str = ""


def slugify(text: str) -> str:
    """A URL-safe slug ("Más clínicas!" -> "mas-clinicas")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join(re.findall(r"[a-z0-9]+", ascii_text.lower()))[:64].strip("-")


def _clean(fields: DecisionFields, default_locale: str) -> DecisionFields:
    texts: dict[str, dict[str, str]] = {}
    for name in TEXT_FIELDS:
        given = fields.texts.get(name, {})
        texts[name] = {}
        for locale, raw in given.items():
            if locale not in SUPPORTED_LOCALES:
                raise DecisionError(f"Unknown language {locale!r}.")
            value = raw.strip()
            if len(value) > LIMITS[name]:
                raise DecisionError(f"The {name.replace('_', ' ')} ({locale}) has at most {LIMITS[name]} characters.")
            if value:
                texts[name][locale] = value
    for name in ("title", "summary"):
        if default_locale not in texts[name]:
            raise DecisionError(f"Write the {name} at least in the default language ({default_locale}).")
    partners = list(dict.fromkeys(one_line(p, 120) for p in fields.partners if p.strip()))
    if len(partners) > MAX_PARTNERS:
        raise DecisionError(f"Name at most {MAX_PARTNERS} partner organizations.")
    return DecisionFields(texts, one_line(fields.decided_by, 300), partners, fields.slug.strip())


def _free_slug(session: Session, wanted: str) -> str:
    slug, n = wanted, 2
    while slug in RESERVED_SLUGS or session.scalar(select(Decision.id).where(Decision.slug == slug)) is not None:
        slug = f"{wanted[:60]}-{n}"
        n += 1
    return slug


def create(session: Session, fields: DecisionFields, default_locale: str, actor: str, now: datetime) -> Decision:
    """A new draft decision (its slug from the one given, or from the title)."""
    clean = _clean(fields, default_locale)
    if clean.slug:
        slug = slugify(clean.slug)
        if slug != clean.slug.lower():
            raise DecisionError("A slug has only letters a-z, digits and dashes.")
        if slug in RESERVED_SLUGS or session.scalar(select(Decision.id).where(Decision.slug == slug)) is not None:
            raise DecisionError(f"The slug {slug!r} is taken: choose another one.")
    else:
        title = pick_text(clean.texts["title"], "en", default_locale)
        slug = _free_slug(session, slugify(title) or "decision")
    decision = Decision(
        slug=slug,
        title=clean.texts["title"],
        summary=clean.texts["summary"],
        changed=clean.texts["changed"],
        not_adopted=clean.texts["not_adopted"],
        decided_by=clean.decided_by,
        partners=clean.partners,
        status=DecisionStatus.DRAFT,
        created_by=actor[:254],
        created_at=now,
        updated_at=now,
        published_at=None,
    )
    session.add(decision)
    session.flush()
    audit.record(session, actor, "decision.create", f"decision:{slug}", now)
    return decision


def find(session: Session, slug: str) -> Decision:
    """The decision with this slug (DecisionError when there is none)."""
    decision = session.scalars(select(Decision).where(Decision.slug == slug)).first()
    if decision is None:
        raise DecisionError(f"There is no decision {slug!r}.")
    return decision


def _draft(decision: Decision) -> None:
    if decision.status != DecisionStatus.DRAFT:
        raise DecisionError("This decision is published: it can no longer be changed.")


def edit(
    session: Session, decision: Decision, fields: DecisionFields, default_locale: str, actor: str, now: datetime
) -> None:
    """Change a draft's texts, department and partners."""
    _draft(decision)
    clean = _clean(fields, default_locale)
    decision.title, decision.summary = clean.texts["title"], clean.texts["summary"]
    decision.changed, decision.not_adopted = clean.texts["changed"], clean.texts["not_adopted"]
    decision.decided_by, decision.partners, decision.updated_at = clean.decided_by, clean.partners, now
    co_decision.clear_sign_offs(session, decision)  # what partners signed off is not what would be published now
    audit.record(session, actor, "decision.edit", f"decision:{decision.slug}", now)


def missing_languages(decision: Decision) -> list[str]:
    """Languages without their own title or summary (they get the default language's)."""
    return [loc for loc in SUPPORTED_LOCALES if not decision.title.get(loc) or not decision.summary.get(loc)]


def link_item(session: Session, decision: Decision, ref: int, outcome: str, actor: str, now: datetime) -> DecisionLink:
    """Link an input item with its outcome (acted on / not adopted); linking again changes the outcome."""
    _draft(decision)
    if outcome not in OUTCOMES:
        raise DecisionError("The outcome is acted_on or not_adopted.")
    item = find_item(session, ref)
    link = session.scalars(
        select(DecisionLink).where(DecisionLink.decision_id == decision.id, DecisionLink.input_item_id == item.id)
    ).first()
    if link is None:
        link = DecisionLink(decision_id=decision.id, input_item_id=item.id, poll_id=None, outcome=outcome)
        session.add(link)
    link.outcome = outcome
    decision.updated_at = now
    session.flush()
    audit.record(session, actor, "decision.link", f"decision:{decision.slug}", now, item=ref, outcome=outcome)
    return link


def link_poll(session: Session, decision: Decision, slug: str, actor: str, now: datetime) -> DecisionLink:
    """Link a poll whose results shaped the decision (its respondents are told, with results for their area)."""
    _draft(decision)
    poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
    if poll is None:
        raise DecisionError(f"There is no poll {slug!r}.")
    link = session.scalars(
        select(DecisionLink).where(DecisionLink.decision_id == decision.id, DecisionLink.poll_id == poll.id)
    ).first()
    if link is None:
        link = DecisionLink(decision_id=decision.id, input_item_id=None, poll_id=poll.id, outcome=ItemStatus.ACTED_ON)
        session.add(link)
        session.flush()
        audit.record(session, actor, "decision.link", f"decision:{decision.slug}", now, poll=slug)
    decision.updated_at = now
    return link


def unlink(
    session: Session, decision: Decision, actor: str, now: datetime, *, ref: int | None = None, poll: str | None = None
) -> None:
    """Remove an item's or a poll's link."""
    _draft(decision)
    query = select(DecisionLink).where(DecisionLink.decision_id == decision.id)
    if ref is not None:
        query = query.join(InputItem, InputItem.id == DecisionLink.input_item_id).where(InputItem.ref == ref)
    elif poll is not None:
        query = query.join(Poll, Poll.id == DecisionLink.poll_id).where(Poll.slug == poll)
    else:
        raise DecisionError("Say which item or poll to unlink.")
    for link in session.scalars(query).all():
        session.delete(link)
    decision.updated_at = now
    audit.record(session, actor, "decision.unlink", f"decision:{decision.slug}", now, item=ref, poll=poll)


def linked_items(session: Session, decision: Decision) -> list[tuple[InputItem, str]]:
    """The decision's input items with their outcomes, by reference."""
    rows = session.execute(
        select(InputItem, DecisionLink.outcome)
        .join(DecisionLink, DecisionLink.input_item_id == InputItem.id)
        .where(DecisionLink.decision_id == decision.id)
        .order_by(InputItem.ref)
    ).all()
    return [(item, outcome) for item, outcome in rows]


def linked_polls(session: Session, decision: Decision) -> list[Poll]:
    """The polls whose results the decision cites."""
    return list(
        session.scalars(
            select(Poll)
            .join(DecisionLink, DecisionLink.poll_id == Poll.id)
            .where(DecisionLink.decision_id == decision.id)
            .order_by(Poll.slug)
        )
    )


def contributions_of(session: Session, decisions: Sequence[Decision]) -> dict[int, int]:
    """The input behind each decision (by id): its linked items plus the respondents of its linked polls; three
    queries however many decisions there are."""
    found = {decision.id: 0 for decision in decisions}
    if not found:
        return found
    for decision_id, items in session.execute(
        select(DecisionLink.decision_id, func.count())
        .where(DecisionLink.decision_id.in_(found), DecisionLink.input_item_id.is_not(None))
        .group_by(DecisionLink.decision_id)
    ):
        found[decision_id] += int(items)
    polls = [
        (decision_id, poll_id)
        for decision_id, poll_id in session.execute(
            select(DecisionLink.decision_id, DecisionLink.poll_id).where(
                DecisionLink.decision_id.in_(found), DecisionLink.poll_id.is_not(None)
            )
        )
        if poll_id is not None
    ]
    if polls:
        respondents = dict(
            session.execute(
                select(Answer.poll_id, func.count(func.distinct(Answer.resident_id)))
                .where(Answer.poll_id.in_({poll_id for _decision, poll_id in polls}))
                .group_by(Answer.poll_id)
            ).all()
        )
        for decision_id, poll_id in polls:
            found[decision_id] += int(respondents.get(poll_id, 0))
    return found


def contributions(session: Session, decision: Decision) -> int:
    """The input behind a decision: its linked items plus the respondents of its linked polls."""
    return contributions_of(session, [decision])[decision.id]


def _poll_answers(session: Session, decision: Decision, flows: FlowRegistry) -> list[PollAnswers]:
    found = []
    flows.refresh(session)
    for poll in linked_polls(session, decision):
        version = flows.latest.get(POLL_FLOW_PREFIX + poll.slug)
        if poll.area_results and version is not None:
            found.append(tally_poll(session, poll, flows.get(session, version)))
    return found


@dataclass(frozen=True)
class Published:
    """What publishing did: items moved to their outcome and notifications queued (0 and 0 when already done)."""

    moved: int
    notified: int
    already: bool = False


def publish(
    session: Session, decision: Decision, program: Program, flows: FlowRegistry, actor: str, now: datetime
) -> Published:
    """Publish once, in the caller's transaction: move the linked items to their outcome (with the reason), and queue
    one notification per contributor, in their language, with the results of linked polls for their area. A
    co-decided decision waits for every co-owner's sign-off (DecisionError naming who)."""
    if waiting := co_decision.waiting_for(session, decision):
        raise NotSignedOff(f"Co-decided: waiting for the sign-off of {', '.join(waiting)}.")
    claimed = session.execute(
        update(Decision)
        .where(Decision.id == decision.id, Decision.status == DecisionStatus.DRAFT)
        .values(status=DecisionStatus.PUBLISHED, stage=DecisionStage.PUBLISHED, published_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:  # published already, here or by another process
        session.refresh(decision)
        return Published(0, 0, already=True)
    session.refresh(decision)
    reason = f"Decision: {pick_text(decision.title, program.default_locale, program.default_locale)}"
    moved = 0
    for item, outcome in linked_items(session, decision):
        if record_status(session, item, outcome, reason, actor, now) is not None:
            moved += 1
    polls = _poll_answers(session, decision, flows)
    rows: list[dict[str, Any]] = []
    refs = contributor_refs(session, decision)
    together = tuple(o.name for o in co_decision.co_owners(session, decision))
    for recipient in recipients(session, decision, program.default_locale):
        resident, locale = recipient.resident, recipient.locale
        results = tuple(
            results_line(answers, resident.id, locale) for answers in polls if resident.id in answers.area_of
        )
        text = notice_text(decision, locale, program, results, ref=refs.get(resident.id), partners=together)
        key = f"decision:{decision.id}:{resident.id}"
        rows.append(notice_row(key, f"decision:{decision.id}", resident.id, recipient.address, text, locale, now))
    notified = queue_once(session, rows)
    audit.record(
        session, actor, "decision.publish", f"decision:{decision.slug}", now, items_moved=moved, notified=notified
    )
    return Published(moved, notified)
