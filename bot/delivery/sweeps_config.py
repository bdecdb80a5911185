"""Reminder lead times as configured (LOOPLINE_EVENT_REMINDERS), parsed without importing the sweeps."""

from __future__ import annotations

from datetime import timedelta


def parse_leads(value: str) -> tuple[timedelta, ...]:
    """ "24h,2h" (or "90m") -> lead times before an event; ValueError when malformed."""
    leads = []
    for raw in value.split(","):
        part = raw.strip().lower()
        unit = {"h": 3600, "m": 60}.get(part[-1:])
        if unit is None or not part[:-1].isdigit() or int(part[:-1]) <= 0:
            raise ValueError("reminder lead times look like 24h,2h")
        leads.append(timedelta(seconds=int(part[:-1]) * unit))
    return tuple(sorted(set(leads), reverse=True))
