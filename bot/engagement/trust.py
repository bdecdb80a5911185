"""The trust pulse: at most once a quarter each, residents who have taken part for a while are asked "Does the
health department listen to people like you?" (1 to 5); the answers by quarter, language, area and what residents
said about themselves, never a group of fewer than 5."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, exists, literal, select
from sqlalchemy.orm import Session

from bot.engagement.polls.public_results import SMALLEST_GROUP, groups_of_five
from bot.engagement.residents import about_me
from bot.states import Consent
from bot.store.models import ConversationSession, OutboxItem, Resident
from bot.store.pulse import TrustPulse

TRUST_FLOW = "trust-pulse"
QUESTION = "trust"
TAKING_PART_FOR = timedelta(days=30)  # newcomers are not asked at once
PER_SWEEP = 200  # asked in one sweep: a city is asked over a few hours, paced like any broadcast
TOGETHER = "fewer than 5 each"


def quarter_of(at: datetime, timezone: str) -> str:
    """The quarter a moment falls in, in the program's zone ("2026Q4")."""
    local = at.astimezone(ZoneInfo(timezone))
    return f"{local.year}Q{(local.month - 1) // 3 + 1}"


def asking_key(quarter: str, resident_id: int) -> str:
    """The outbox key of a resident's question in a quarter: asked once."""
    return f"trust:{quarter}:{resident_id}"


def to_ask(session: Session, now: datetime, timezone: str, limit: int = PER_SWEEP) -> list[Resident]:
    """Residents to ask this quarter: taking part for a while, in no conversation, not asked this quarter yet."""
    quarter = quarter_of(now, timezone)
    key = literal(f"trust:{quarter}:") + cast(Resident.id, String)
    asked = exists(select(OutboxItem.id).where(OutboxItem.idempotency_key == key))
    busy = select(ConversationSession.resident_id)
    query = (
        select(Resident)
        .where(
            and_(Resident.consent == Consent.GRANTED, Resident.created_at <= now - TAKING_PART_FOR),
            ~asked,
            Resident.id.not_in(busy),
        )
        .order_by(Resident.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def record(session: Session, resident: Resident, score: Any, said: tuple[str, str], at: datetime, zone: str) -> None:
    """A resident's answer this quarter (said: the channel and language; a second answer replaces the first); a
    skip keeps nothing."""
    channel, locale = said
    if not isinstance(score, int):
        return
    quarter = quarter_of(at, zone)
    found = session.scalars(
        select(TrustPulse).where(TrustPulse.resident_id == resident.id, TrustPulse.quarter == quarter)
    ).first()
    if found is None:
        found = TrustPulse(resident_id=resident.id, quarter=quarter, channel=channel, locale=locale, at=at)
        session.add(found)
    found.score, found.area, found.at = score, resident.area, at


@dataclass(frozen=True, slots=True)
class Tally:
    """One group's answers: how many, the average (1 to 5), the share answering 4 or 5."""

    group: str
    answers: int
    average: float | None  # None: fewer than 5 (not told apart)
    listened: float | None


def over_time(session: Session) -> list[Tally]:
    """Every quarter's answers, oldest first."""
    by: dict[str, list[int]] = defaultdict(list)
    for quarter, score in session.execute(select(TrustPulse.quarter, TrustPulse.score)):
        by[quarter].append(int(score))
    return [_tally(quarter, scores) for quarter, scores in sorted(by.items())]


def by_group(session: Session, quarter: str) -> dict[str, list[Tally]]:
    """One quarter's answers by language, area and each question residents answered about themselves (groups of
    fewer than 5 counted together)."""
    rows = session.execute(
        select(TrustPulse.resident_id, TrustPulse.score, TrustPulse.locale, TrustPulse.area).where(
            TrustPulse.quarter == quarter
        )
    ).all()
    among = select(TrustPulse.resident_id).where(TrustPulse.quarter == quarter)
    described = about_me.groups(session, among)
    found: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for resident_id, score, locale, area in rows:
        found["language"][locale or "not known"].append(int(score))
        found["area"][area or "not known"].append(int(score))
        for question, group in described.get(int(resident_id or 0), {}).items():
            found[question][group].append(int(score))
    return {dimension: _groups(groups) for dimension, groups in found.items()}


def _groups(groups: dict[str, list[int]]) -> list[Tally]:
    return [_tally(group, scores) for group, scores in groups_of_five(groups, TOGETHER)]


def _tally(group: str, scores: list[int]) -> Tally:
    if len(scores) < SMALLEST_GROUP:
        return Tally(group, len(scores), None, None)
    return Tally(
        group, len(scores), round(sum(scores) / len(scores), 2), sum(1 for s in scores if s >= 4) / len(scores)
    )
