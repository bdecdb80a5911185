"""Pacing shared through the database: token buckets that every process reserves from before sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.store.models import RateBucket


@dataclass(frozen=True, slots=True)
class Limit:
    """At most per_second on average, with bursts up to burst, for everything that shares the key."""

    key: str
    per_second: float
    burst: float


def _bucket(session: Session, limit: Limit, now: datetime) -> RateBucket:
    bucket = session.scalars(select(RateBucket).where(RateBucket.key == limit.key).with_for_update()).first()
    if bucket is None:
        bucket = RateBucket(key=limit.key, tokens=limit.burst, updated_at=now)
        session.add(bucket)
        session.flush()
    return bucket


def reserve(session: Session, demands: Sequence[tuple[Limit, float]], now: datetime) -> float:
    """Take cost from every bucket at once and return how many seconds to wait before sending.

    Tokens may go below zero: that is a reservation in the future, which other processes then wait behind."""
    wait = 0.0
    for limit, cost in demands:
        bucket = _bucket(session, limit, now)
        elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
        tokens = min(limit.burst, bucket.tokens + elapsed * limit.per_second) - cost
        bucket.tokens, bucket.updated_at = tokens, now
        if tokens < 0:
            wait = max(wait, -tokens / limit.per_second)
    return wait


def hold_back(session: Session, limit: Limit, seconds: float, now: datetime) -> None:
    """The provider said "too many" (429 / 20429): every process sharing the key pauses for that long."""
    bucket = _bucket(session, limit, now)
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    tokens = min(limit.burst, bucket.tokens + elapsed * limit.per_second)
    bucket.tokens, bucket.updated_at = min(tokens, -seconds * limit.per_second), now
