"""Decisions that keep going: a published decision moves to in progress, implemented, or changed (with why), each
move told once to its contributors in their language and kept as a timeline; some days after it was implemented,
contributors are asked "Did this happen?" and their answers shown with it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.engagement.decisions.notices import recipients
from bot.i18n.bidi import isolate
from bot.i18n.catalogs import Translator, _
from bot.i18n.negotiation import pick_text, text_direction
from bot.program import Program
from bot.staff import audit
from bot.states import DecisionStage, DecisionStatus
from bot.store.engagement import Decision, DecisionCheckBack, DecisionStageChange
from bot.store.models import Resident
from bot.store.outbox import notice_row, queue_once

CHECK_BACK_FLOW = "check-back"
ANSWERS = ("yes", "partly", "no")
MOVES: dict[str, frozenset[str]] = {
    DecisionStage.PUBLISHED: frozenset({DecisionStage.IN_PROGRESS, DecisionStage.IMPLEMENTED, DecisionStage.CHANGED}),
    DecisionStage.IN_PROGRESS: frozenset({DecisionStage.IMPLEMENTED, DecisionStage.CHANGED}),
    DecisionStage.IMPLEMENTED: frozenset({DecisionStage.CHANGED}),
    DecisionStage.CHANGED: frozenset({DecisionStage.IN_PROGRESS, DecisionStage.IMPLEMENTED, DecisionStage.CHANGED}),
}
TOLD = {
    DecisionStage.IN_PROGRESS: _("{program}: work has started on what we decided with you: {title}"),
    DecisionStage.IMPLEMENTED: _("{program}: it is done! {title}. Thank you for your part in it."),
    DecisionStage.CHANGED: _("{program}: a change to what we decided, {title}: {why}"),
}
STAGE_NAMES = {
    DecisionStage.PUBLISHED: _("Decided"),
    DecisionStage.IN_PROGRESS: _("In progress"),
    DecisionStage.IMPLEMENTED: _("Done"),
    DecisionStage.CHANGED: _("Changed"),
}


class ProgressError(ValueError):
    """A move a decision cannot make (its message says why)."""


def move(
    session: Session, decision: Decision, stage: str, why: dict[str, str], actor: str, now: datetime, program: Program
) -> int:
    """Move a published decision on (audited; "changed" needs why, in the program's language at least); tell its
    contributors once each, in their language; how many are told."""
    current = decision.stage or DecisionStage.PUBLISHED
    if decision.status != DecisionStatus.PUBLISHED:
        raise ProgressError("Publish the decision first.")
    if stage not in MOVES.get(current, frozenset()):
        raise ProgressError(f"A decision that is {current.replace('_', ' ')} cannot move to {stage.replace('_', ' ')}.")
    written = {locale: text.strip() for locale, text in why.items() if text and text.strip()}
    if stage == DecisionStage.CHANGED and not written.get(program.default_locale):
        raise ProgressError("Say what changed and why (in the program's language at least): contributors are told.")
    change = DecisionStageChange(decision_id=decision.id, stage=stage, why=written, actor=actor[:254], at=now)
    session.add(change)
    session.flush()
    decision.stage, decision.updated_at = stage, now
    if stage == DecisionStage.IMPLEMENTED and decision.implemented_at is None:
        decision.implemented_at = now
    rows = []
    for recipient in recipients(session, decision, program.default_locale):
        locale, direction = recipient.locale, text_direction(recipient.locale)
        words = {
            "program": isolate(program.name, direction),
            "title": isolate(pick_text(decision.title, locale, program.default_locale), direction),
            "why": isolate(pick_text(written, locale, program.default_locale), direction),
        }
        text = Translator(locale).gettext(TOLD[DecisionStage(stage)], **words)
        url = program.page_url(decision.slug, locale)
        text = f"{text}\n{url}" if url else text
        who = recipient.resident.id
        key = f"decision:{decision.id}:{stage}:{change.id}:{who}"
        rows.append(notice_row(key, f"decision:{decision.id}", who, recipient.address, text, locale, now))
    told = queue_once(session, rows)
    audit.record(session, actor, "decision.stage", f"decision:{decision.slug}", now, stage=stage, told=told)
    return told


def timeline(session: Session, decision: Decision) -> list[DecisionStageChange]:
    """The decision's moves after it was published, oldest first."""
    query = select(DecisionStageChange).where(DecisionStageChange.decision_id == decision.id)
    return list(session.scalars(query.order_by(DecisionStageChange.id)))


def due_for_check_back(session: Session, now: datetime, after: timedelta, window: timedelta) -> list[Decision]:
    """Implemented decisions whose contributors are to be asked whether it happened: from `after` days after it was
    implemented, for `window` (those busy in another conversation are asked at a later sweep)."""
    return list(
        session.scalars(
            select(Decision).where(
                Decision.stage == DecisionStage.IMPLEMENTED,
                Decision.implemented_at <= now - after,
                Decision.implemented_at > now - after - window,
            )
        )
    )


def record_check_back(session: Session, slug: str, resident: Resident, answer: Any, locale: str, now: datetime) -> None:
    """A contributor's answer to "Did this happen?" (once; a second answer replaces the first)."""
    decision = session.scalars(select(Decision).where(Decision.slug == slug)).first()
    if decision is None or answer not in ANSWERS:
        return
    found = session.scalars(
        select(DecisionCheckBack).where(
            DecisionCheckBack.decision_id == decision.id, DecisionCheckBack.resident_id == resident.id
        )
    ).first()
    if found is None:
        session.add(
            DecisionCheckBack(decision_id=decision.id, resident_id=resident.id, answer=answer, locale=locale, at=now)
        )
    else:
        found.answer, found.at = answer, now


def check_backs(session: Session, decision_ids: list[int]) -> dict[int, Counter[str]]:
    """How many answered yes, partly and no, per decision."""
    found: dict[int, Counter[str]] = {}
    for decision_id, answer, n in session.execute(
        select(DecisionCheckBack.decision_id, DecisionCheckBack.answer, func.count())
        .where(DecisionCheckBack.decision_id.in_(decision_ids))
        .group_by(DecisionCheckBack.decision_id, DecisionCheckBack.answer)
    ):
        found.setdefault(int(decision_id), Counter())[str(answer)] = int(n)
    return found
