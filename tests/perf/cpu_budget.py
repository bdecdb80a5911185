"""Where a machine's CPU went during a load phase: the whole machine's busy time (from /proc/stat) and the
database server's (every process named postgres), so that a figure bounded by the cores can be shown to be."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_DATABASE_NAMES = frozenset({"postgres", "postmaster"})


@dataclass(frozen=True)
class CpuSnapshot:
    """Busy CPU seconds so far: the whole machine's, and the database server's processes'."""

    machine_busy_s: float
    database_s: float


def machine_busy_seconds() -> float:
    """CPU seconds every core spent on anything but idling and waiting for I/O since boot (Linux /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def database_seconds() -> float:
    """CPU seconds used so far by the live processes named postgres (its server and backends, on this machine)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() not in _DATABASE_NAMES:
                continue
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def snapshot() -> CpuSnapshot | None:
    """Now's figures; None where /proc is not there to read."""
    try:
        return CpuSnapshot(machine_busy_seconds(), database_seconds())
    except (OSError, ValueError, IndexError):
        return None


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
