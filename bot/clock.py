"""Injectable clock and id factory, so that the core never reads the wall clock or randomness directly."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


@dataclass(slots=True)
class Clock:
    """A source of time and ids; tests pass a fixed one."""

    now: Callable[[], datetime] = utcnow
    token: Callable[[int], str] = field(default=secrets.token_hex)


@dataclass(slots=True)
class FixedClock(Clock):
    """A clock that stands still until moved; for tests and golden transcripts."""

    at: datetime = field(default_factory=lambda: datetime(2026, 1, 1, 12, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.now = lambda: self.at
        counter = iter(range(1, 1 << 62))
        self.token = lambda n: format(next(counter), f"0{2 * n}x")
