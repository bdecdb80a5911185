"""Broadcast benchmark: enqueueing a large broadcast, and draining SMS at a provider's pace.

Run from the repository root::

    python -m tests.perf.bench_broadcast [--recipients N] [--postgres URL] [--json]
                                         [--rounds R] [--rate R] [--latency-ms L] [--messages M]
                                         [--workers 1,2] [--profile]

Two legs, each bounded in time, loopback only:

1. **Enqueue.** ``broadcasts.enqueue`` (resolve the audience, render per language and
   channel, bulk-insert the outbox rows) for N residents who joined, on SQLite (a
   temporary file) and on PostgreSQL (a fresh schema, dropped afterwards). The
   residents are seeded first with Core bulk inserts, in a process of their own.
   Each measurement runs in a fresh subprocess, so that its peak RSS
   (``ru_maxrss``) is its own. The same-run baseline is a bare DB-API
   ``executemany`` of N equivalent rows into a copy of the outbox table (same
   columns, constraints and indexes) with sqlite3 / psycopg; the enqueue time is
   reported as a ratio to it.
2. **Drain.** A fake Twilio REST API on 127.0.0.1 that takes L ms to answer each
   request (100 segments/s and 50 ms by default: a short code, and a provider that
   is not instant), accepts at most R segments in any sliding one-second window and
   answers HTTP 429 / error 20429 beyond that; ``python -m bot worker`` processes
   (1, then 2 sharing the database) send M one-segment SMS through it with
   ``LOOPLINE_TWILIO_SEGMENTS_PER_SECOND=R``. The figures are the steady pace the
   provider saw, as a fraction of R, and the 429 count.

See README.md for what each number means. Exit status: 0 when every leg ran to
the end and every message was queued / delivered exactly once, 1 otherwise. The
project's aims (enqueue <= 2 s and <= 150 MB on SQLite; drain >= 0.95 of the
limit with no 429, for one worker as for two) are reported as met or not; missing
them is not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import itertools
import json
import os
import pstats
import re
import resource
import secrets
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import parse_qsl

HOST = "127.0.0.1"  # loopback only, by design
REPO_ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024

LOCALES = ("en", "es", "ar", "zh_Hans", "vi", "fr")
CHANNELS = ("sms", "telegram")
TIMEZONES = ("America/Los_Angeles", None, "America/New_York")
AREAS = ("94110", "94103", "94112", "Eastside")
START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)  # "now" of the enqueue leg (send_at and created_at)

# The project's aims.
ENQUEUE_AIM_S = 2.0
ENQUEUE_AIM_RECIPIENTS = 100_000
MEMORY_AIM_MB = 150.0
DRAIN_AIM_FRACTION = 0.95
DRAIN_RATE = 100.0  # a short code's segments per second
DRAIN_LATENCY_MS = 50.0  # how long the fake provider takes to answer each request
DRAIN_MESSAGES = 1500  # 15 s of steady sending at DRAIN_RATE

BROADCAST = {
    "name": "Flu clinic",
    "text": {
        "en": "Free flu shots this Saturday, 10am-2pm, at the Eastside Library (1200 Main St). "
        "No appointment or insurance needed. Bring your family!",
        "es": "Vacunas gratis contra la gripe este sábado, de 10 a 14 h, en la Biblioteca Eastside "
        "(1200 Main St). Sin cita ni seguro. ¡Traiga a su familia!",
        "ar": "لقاحات إنفلونزا مجانية يوم السبت من 10 صباحًا إلى 2 ظهرًا في مكتبة الحي الشرقي. لا حاجة لموعد أو تأمين.",
        "zh_Hans": "本周六上午10点至下午2点在东区图书馆免费接种流感疫苗。无需预约或保险，欢迎全家参加！",
        "vi": "Tiêm phòng cúm miễn phí thứ Bảy này, 10 giờ sáng đến 2 giờ chiều, tại Thư viện Eastside. "
        "Không cần hẹn trước hay bảo hiểm.",
        "fr": "Vaccins gratuits contre la grippe ce samedi, de 10 h à 14 h, à la bibliothèque Eastside "
        "(1200 Main St). Sans rendez-vous ni assurance.",
    },
    "invite": {"event": "flu-clinic"},
}
# One SMS segment each (checked when the drain leg queues them).
DRAIN_BROADCAST = {
    "name": "Flu clinic reminder",
    "text": {
        "en": "Reminder: free flu shots Saturday 10-2, Eastside Library.",
        "es": "Vacunas gratis el sábado, 10-2, Biblioteca Eastside.",
        "ar": "تذكير: لقاحات مجانية يوم السبت في مكتبة الحي الشرقي.",
        "zh_Hans": "提醒：周六上午10点至下午2点，东区图书馆免费流感疫苗。",
        "vi": "Nhắc nhở: tiêm cúm miễn phí thứ Bảy, 10-2 giờ, Thư viện Eastside.",
        "fr": "Rappel : vaccins gratuits samedi 10h-14h, bibliothèque Eastside.",
    },
    "urgent": False,
}

OUTBOX_COLUMNS = (
    "idempotency_key",
    "purpose",
    "resident_id",
    "channel",
    "address",
    "text",
    "choices",
    "status",
    "urgent",
    "attempts",
    "not_before",
    "claimed_until",
    "last_error",
    "message_id",
    "created_at",
    "finished_at",
)
BASELINE_TABLE = "bench_outbox"

TWILIO_FROM = "+15005550006"
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages\.json$")


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


# --------------------------------------------------------------------------- residents


def resident_spec(i: int, channels: Sequence[str] = CHANNELS) -> tuple[str, str, str]:
    """(locale, channel, address) of resident ``i`` (1-based): every language on every channel."""
    locale = LOCALES[i % len(LOCALES)]
    channel = channels[(i // len(LOCALES)) % len(channels)]
    address = f"+1415{i:07d}" if channel == "sms" else str(700_000_000 + i)
    return locale, channel, address


def seed_residents(url: str, count: int, channels: Sequence[str]) -> float:
    """Migrate, then insert ``count`` residents who joined, one reachable address each (Core bulk inserts)."""
    from sqlalchemy import Table, insert

    from bot.store.db import Database
    from bot.store.migrate import upgrade
    from bot.store.models import Address, Resident

    residents_table = Resident.__table__
    addresses_table = Address.__table__
    assert isinstance(residents_table, Table) and isinstance(addresses_table, Table)
    db = Database(url)
    try:
        upgrade(db.engine)
        started = time.perf_counter()
        chunk = 10_000
        for first in range(1, count + 1, chunk):
            ids = range(first, min(count, first + chunk - 1) + 1)
            residents: list[dict[str, Any]] = []
            addresses: list[dict[str, Any]] = []
            for i in ids:
                locale, channel, address = resident_spec(i, channels)
                residents.append(
                    {
                        "id": i,
                        "locale": locale,
                        "timezone": TIMEZONES[i % len(TIMEZONES)],
                        "consent": "granted",
                        "area": AREAS[i % len(AREAS)],
                        "fields": {},
                        "display_name": None,
                        "created_at": START,
                        "updated_at": START,
                    }
                )
                addresses.append(
                    {
                        "id": i,
                        "resident_id": i,
                        "channel": channel,
                        "value": address,
                        "reachable": True,
                        "created_at": START,
                    }
                )
            with db.engine.begin() as conn:
                conn.execute(insert(residents_table), residents)
                conn.execute(insert(addresses_table), addresses)
        return time.perf_counter() - started
    finally:
        db.dispose()


# --------------------------------------------------------------------------- memory


def current_rss_bytes() -> int | None:
    """Resident set size now (Linux /proc; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def peak_rss_bytes() -> int:
    """``ru_maxrss`` of this process: the highest RSS it has had so far (kB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _memory(rss_before: int | None, peak_before: int) -> dict[str, Any]:
    peak = peak_rss_bytes()
    return {
        "rss_before_mib": None if rss_before is None else rss_before / MIB,
        "peak_rss_mib": peak / MIB,
        "peak_before_mib": peak_before / MIB,
        # How much higher than right before the measured part the process went (0 when it never did).
        "peak_increase_mib": None if rss_before is None else max(0, peak - rss_before) / MIB,
    }


# --------------------------------------------------------------------------- enqueue leg (children)


def _profile_text(profile: cProfile.Profile, lines: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(lines)
    stats.sort_stats("cumulative").print_stats(lines)
    return out.getvalue()


def child_enqueue(url: str, recipients: int, profile: bool) -> dict[str, Any]:
    """One timed ``broadcasts.enqueue`` in this (fresh) process, then its rows are deleted again (untimed)."""
    from sqlalchemy import delete, func, select, text

    from bot.engagement.broadcasts import sending as broadcasts
    from bot.engagement.broadcasts.audiences import parse_audience
    from bot.store.db import Database
    from bot.store.engagement import Broadcast
    from bot.store.models import OutboxItem

    db = Database(url)
    try:
        with db.transaction() as session:  # connect, and touch the residents before the clock starts
            session.execute(text("SELECT count(*) FROM residents")).scalar()
        message = broadcasts.parse_broadcast(BROADCAST)
        audience = parse_audience(None)
        gc.collect()
        rss_before, peak_before = current_rss_bytes(), peak_rss_bytes()
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        with db.transaction() as session:
            row, count = broadcasts.enqueue(session, message, audience, "en", START, START)
            enqueued = time.perf_counter()
        committed = time.perf_counter()
        if profiler is not None:
            profiler.disable()
        memory = _memory(rss_before, peak_before)
        purpose = f"{broadcasts.PURPOSE_PREFIX}{row.id}"
        with db.transaction() as session:
            stored = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.purpose == purpose))
            by_channel = dict(
                session.execute(
                    select(OutboxItem.channel, func.count())
                    .where(OutboxItem.purpose == purpose)
                    .group_by(OutboxItem.channel)
                ).all()
            )
            session.execute(delete(OutboxItem).where(OutboxItem.purpose == purpose))
            session.execute(delete(Broadcast).where(Broadcast.id == row.id))
        return {
            "seconds": committed - started,
            "enqueue_call_s": enqueued - started,
            "commit_s": committed - enqueued,
            "returned": count,
            "stored": stored,
            "by_channel": by_channel,
            "memory": memory,
            "profile": _profile_text(profiler) if profiler is not None else None,
        }
    finally:
        db.dispose()


def _baseline_table(url: str) -> Any:
    """A copy of the outbox table (columns, constraints, indexes), named BASELINE_TABLE, created afresh."""
    from sqlalchemy import MetaData, Table

    from bot.store.db import Database
    from bot.store.models import Base

    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:  # so that its foreign keys resolve
        table.to_metadata(metadata)
    copy: Table = metadata.tables["outbox"].to_metadata(metadata, name=BASELINE_TABLE)
    # Index and constraint names are per schema on PostgreSQL (per database on SQLite): rename the copies'.
    items: list[Any] = [*copy.indexes, *copy.constraints]
    for item in items:
        name = str(item.name) if item.name else ""
        if name and BASELINE_TABLE not in name:
            item.name = name.replace("outbox", BASELINE_TABLE, 1)
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            copy.drop(conn, checkfirst=True)
            copy.create(conn)
    finally:
        db.dispose()
    return copy


def _baseline_rows(recipients: int, sqlite: bool) -> list[tuple[Any, ...]]:
    """The rows ``enqueue`` would write for the seeded residents, in DB-API form."""
    from bot.channels.render import render
    from bot.engagement.broadcasts import sending as broadcasts
    from bot.i18n.negotiation import text_direction
    from bot.messages import Address, Channel, Reply

    message = broadcasts.parse_broadcast(BROADCAST)
    texts: dict[tuple[str, str], str] = {}
    for locale in LOCALES:
        reply = Reply(broadcasts.compose(message, locale), (), text_direction(locale))
        for channel in CHANNELS:
            to = Address(Channel(channel), "+14155550100" if channel == "sms" else "1")
            texts[locale, channel] = render(reply, to).text
    purpose = f"{broadcasts.PURPOSE_PREFIX}1"
    if sqlite:
        # What SQLAlchemy hands sqlite3 for these types: ISO text, JSON text, 0/1.
        at: Any = START.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        choices: Any = "{}"
    else:
        from psycopg.types.json import Json

        at, choices = START, Json({})
    rows = []
    for i in range(1, recipients + 1):
        locale, channel, address = resident_spec(i)
        rows.append(
            (
                f"{purpose}:{i}",
                purpose,
                i,
                channel,
                address,
                texts[locale, channel],
                choices,
                "pending",
                False,
                0,
                at,
                None,
                None,
                None,
                at,
                None,
            )
        )
    return rows


def _psycopg_conninfo(url: str) -> str:
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def child_baseline(url: str, recipients: int) -> dict[str, Any]:
    """A bare DB-API executemany of the same rows into a copy of the outbox table (DDL and rows untimed)."""
    sqlite = url.startswith("sqlite")
    _baseline_table(url)
    rows = _baseline_rows(recipients, sqlite)
    columns = ", ".join(OUTBOX_COLUMNS)
    marks = ", ".join(["?" if sqlite else "%s"] * len(OUTBOX_COLUMNS))
    sql = f"INSERT INTO {BASELINE_TABLE} ({columns}) VALUES ({marks})"
    gc.collect()
    if sqlite:
        import sqlite3

        path = url.split(":///", 1)[1]
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            # The pragmas Loopline's engine sets on SQLite (bot/store/db.py).
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=10000"):
                conn.execute(f"PRAGMA {pragma}")
            rss_before, peak_before = current_rss_bytes(), peak_rss_bytes()
            started = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, rows)
            conn.execute("COMMIT")
            seconds = time.perf_counter() - started
            memory = _memory(rss_before, peak_before)
            stored = conn.execute(f"SELECT count(*) FROM {BASELINE_TABLE}").fetchone()[0]
            conn.execute(f"DROP TABLE {BASELINE_TABLE}")
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(_psycopg_conninfo(url)) as pg:
            rss_before, peak_before = current_rss_bytes(), peak_rss_bytes()
            started = time.perf_counter()
            with pg.transaction(), pg.cursor() as cur:
                cur.executemany(sql.encode(), rows)
            seconds = time.perf_counter() - started
            memory = _memory(rss_before, peak_before)
            with pg.cursor() as cur:
                cur.execute(f"SELECT count(*) FROM {BASELINE_TABLE}".encode())
                found = cur.fetchone()
                stored = found[0] if found else 0
                cur.execute(f"DROP TABLE {BASELINE_TABLE}".encode())
            pg.commit()
    return {"seconds": seconds, "stored": stored, "memory": memory}


def child_main(task: Mapping[str, Any]) -> dict[str, Any]:
    kind = task["kind"]
    if kind == "seed":
        return {"seconds": seed_residents(task["url"], task["recipients"], task["channels"])}
    if kind == "enqueue":
        return child_enqueue(task["url"], task["recipients"], task["profile"])
    if kind == "baseline":
        return child_baseline(task["url"], task["recipients"])
    raise ValueError(f"unknown task {kind!r}")


# --------------------------------------------------------------------------- orchestration helpers


class LegFailure(RuntimeError):
    """A leg could not be measured; the message says why."""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}


def run_child(task: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """Run one task in a fresh interpreter and return what it printed (JSON, its last line)."""
    cmd = [sys.executable, "-m", "tests.perf.bench_broadcast", "--child", json.dumps(dict(task))]
    try:
        proc = subprocess.run(
            cmd,
            cwd=REPO_ROOT,
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LegFailure(f"{task['kind']} did not finish within {timeout:.0f}s") from exc
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise LegFailure(f"{task['kind']} exited with code {proc.returncode}:\n{tail}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@dataclass
class Backend:
    """A database to run on: a SQLite file or a fresh PostgreSQL schema."""

    name: str
    url: str
    schema: str | None = None
    admin_url: str | None = None


@contextlib.contextmanager
def fresh_database(kind: str, workdir: Path, postgres: str | None, label: str) -> Iterator[Backend]:
    """A new empty database; a PostgreSQL schema is dropped afterwards."""
    if kind == "sqlite":
        path = workdir / f"{label}-{secrets.token_hex(4)}.db"
        try:
            yield Backend("sqlite", f"sqlite:///{path}")
        finally:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(OSError):
                    Path(f"{path}{suffix}").unlink()
        return
    assert postgres is not None
    from sqlalchemy import create_engine, text

    from bot.store.db import normalise_url

    schema = f"bench_{label.replace('-', '_')}_{secrets.token_hex(4)}"
    admin = create_engine(normalise_url(postgres), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in postgres else "?"
        try:
            yield Backend("postgres", f"{postgres}{separator}options=-csearch_path%3D{schema}", schema, postgres)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


# --------------------------------------------------------------------------- enqueue leg


@dataclass
class EnqueueRun:
    backend: str
    recipients: int
    seed_s: float | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    profile: str | None = None
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.rounds)

    def summary(self) -> dict[str, Any]:
        if not self.rounds:
            return {"ok": False}
        enqueue = [r["enqueue"] for r in self.rounds]
        baseline = [r["baseline"] for r in self.rounds]
        seconds = statistics.median(e["seconds"] for e in enqueue)
        ratio = statistics.median(e["seconds"] / b["seconds"] for e, b in zip(enqueue, baseline, strict=True))
        peak = max(e["memory"]["peak_rss_mib"] for e in enqueue)
        increase = max(e["memory"]["peak_increase_mib"] or 0.0 for e in enqueue)
        baseline_s = statistics.median(b["seconds"] for b in baseline)
        out: dict[str, Any] = {
            "ok": self.ok,
            "recipients": self.recipients,
            "seconds": seconds,
            "rows_per_s": self.recipients / seconds if seconds else None,
            "enqueue_call_s": statistics.median(e["enqueue_call_s"] for e in enqueue),
            "commit_s": statistics.median(e["commit_s"] for e in enqueue),
            "baseline_s": baseline_s,
            "baseline_rows_per_s": self.recipients / baseline_s if baseline_s else None,
            "ratio": ratio,
            "peak_rss_mib": peak,
            "peak_increase_mib": increase,
            "rss_before_mib": max(e["memory"]["rss_before_mib"] or 0.0 for e in enqueue),
            "baseline_peak_increase_mib": max(b["memory"]["peak_increase_mib"] or 0.0 for b in baseline),
        }
        if self.backend == "sqlite":
            full = self.recipients >= ENQUEUE_AIM_RECIPIENTS  # the aims are for a broadcast of that size
            out["aim"] = {
                "time_s": ENQUEUE_AIM_S,
                "memory_mb": MEMORY_AIM_MB,
                "time_met": seconds <= ENQUEUE_AIM_S if full else None,
                # MB (10^6 bytes), as the aim is written.
                "peak_rss_met": peak * MIB / 1e6 <= MEMORY_AIM_MB if full else None,
                "peak_increase_met": increase * MIB / 1e6 <= MEMORY_AIM_MB if full else None,
            }
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "recipients": self.recipients,
            "seed_s": self.seed_s,
            "failure": self.failure,
            "summary": self.summary(),
            "rounds": self.rounds,
            "profile": self.profile,
        }


def run_enqueue_leg(
    kind: str, workdir: Path, postgres: str | None, recipients: int, rounds: int, profile: bool, timeout: float
) -> EnqueueRun:
    run = EnqueueRun(kind, recipients)
    try:
        with fresh_database(kind, workdir, postgres, "enqueue") as backend:
            _log(f"enqueue/{kind}: seeding {recipients} residents (not timed)")
            seeded = run_child(
                {"kind": "seed", "url": backend.url, "recipients": recipients, "channels": CHANNELS}, timeout
            )
            run.seed_s = seeded["seconds"]
            for round_no in range(1, rounds + 1):
                order = ("baseline", "enqueue") if round_no % 2 else ("enqueue", "baseline")
                measured: dict[str, Any] = {"round": round_no}
                for what in order:
                    task = {"kind": what, "url": backend.url, "recipients": recipients, "profile": False}
                    measured[what] = result = run_child(task, timeout)
                    _log(f"enqueue/{kind} round {round_no}: {what} {result['seconds']:.2f}s")
                    if what == "enqueue" and (result["returned"] != recipients or result["stored"] != recipients):
                        raise LegFailure(
                            f"enqueue queued {result['returned']} rows ({result['stored']} stored), "
                            f"expected {recipients}"
                        )
                    if what == "baseline" and result["stored"] != recipients:
                        raise LegFailure(f"baseline stored {result['stored']} rows, expected {recipients}")
                run.rounds.append(measured)
            if profile:
                _log(f"enqueue/{kind}: profiling one more enqueue (its time is not reported)")
                task = {"kind": "enqueue", "url": backend.url, "recipients": recipients, "profile": True}
                run.profile = run_child(task, timeout)["profile"]
    except (LegFailure, OSError) as exc:
        run.failure = str(exc)
    except Exception as exc:  # a database that cannot be reached, say: report, go on with the other legs
        run.failure = f"{type(exc).__name__}: {exc}"
    return run


# --------------------------------------------------------------------------- drain leg: fake provider


class FakeTwilio:
    """Twilio's Messages.json on 127.0.0.1, at most ``rate`` segments in any sliding one-second window; every
    answer takes ``latency`` seconds (the request is counted when it arrives, and answered that much later)."""

    def __init__(self, rate: float, account_sid: str, latency: float = 0.0) -> None:
        self.rate = rate
        self.account_sid = account_sid
        self.latency = latency
        self.lock = threading.Lock()
        self.open_requests = 0  # requests arrived and not yet answered
        self.most_open = 0
        self.window: list[tuple[float, int]] = []  # (arrival, segments) of accepted messages, last second
        self.accepted: list[float] = []
        self.rejected: list[float] = []
        self.other: Counter[int] = Counter()
        self.recipients: Counter[str] = Counter()
        self.first_request: float | None = None
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.sids = 0

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def decide(self, to: str, segments: int, now: float) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.first_request is None:
                self.first_request = now
            self.window = [(t, s) for t, s in self.window if t > now - 1.0]
            used = sum(s for _, s in self.window)
            if used + segments > self.rate:
                self.rejected.append(now)
                return 429, {
                    "code": 20429,
                    "message": "Too Many Requests",
                    "more_info": "https://www.twilio.com/docs/errors/20429",
                    "status": 429,
                }
            self.window.append((now, segments))
            self.accepted.append(now)
            self.recipients[to] += 1
            self.sids += 1
            sid = f"SM{self.sids:032x}"
        return 201, {"sid": sid, "status": "queued", "to": to, "num_segments": str(segments)}

    def start(self) -> None:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the Twilio client's session expects
            # Headers and body leave in two writes: with Nagle's algorithm the body would wait for the client's
            # delayed ACK of the headers, adding some 40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, document: Mapping[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                arrived = time.monotonic()
                with provider.lock:
                    provider.open_requests += 1
                    provider.most_open = max(provider.most_open, provider.open_requests)
                try:
                    self._handle(raw, arrived)
                finally:
                    with provider.lock:
                        provider.open_requests -= 1

            def _handle(self, raw: bytes, arrived: float) -> None:
                status, document = self._decide(raw, arrived)
                if provider.latency > 0:  # decided on arrival, answered after the provider's latency
                    time.sleep(max(0.0, arrived + provider.latency - time.monotonic()))
                self._answer(status, document)

            def _decide(self, raw: bytes, arrived: float) -> tuple[int, dict[str, Any]]:
                from bot.channels.segments import segment_count

                match = MESSAGES_PATH.match(self.path.split("?", 1)[0])
                if match is None or match.group(1) != provider.account_sid:
                    with provider.lock:
                        provider.other[404] += 1
                    return 404, {"code": 20404, "message": "Not found", "status": 404}
                form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                to, text = form.get("To", ""), form.get("Body", "")
                if not to or not (form.get("From") or form.get("MessagingServiceSid")):
                    with provider.lock:
                        provider.other[400] += 1
                    return 400, {"code": 21604, "message": "A 'To' phone number is required.", "status": 400}
                status, document = provider.decide(to, segment_count(text), arrived)
                if status == 201:
                    document = {
                        **document,
                        "account_sid": provider.account_sid,
                        "from": form.get("From"),
                        "body": text,
                        "direction": "outbound-api",
                        "api_version": "2010-04-01",
                        "price": None,
                        "error_code": None,
                        "error_message": None,
                        "uri": f"/2010-04-01/Accounts/{provider.account_sid}/Messages/{document['sid']}.json",
                    }
                return status, document

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-twilio", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(5.0)

    def figures(self) -> dict[str, Any]:
        with self.lock:
            accepted = list(self.accepted)
            rejected_times = list(self.rejected)
            rejected = len(rejected_times)
            other = dict(self.other)
            duplicates = sum(n - 1 for n in self.recipients.values() if n > 1)
            first = self.first_request
            most_open = self.most_open
        out: dict[str, Any] = {
            "accepted": len(accepted),
            "rejected_429": rejected,
            "latency_ms": self.latency * 1000,
            "max_concurrent_requests": most_open,
            "other_errors": other,
            "duplicates": duplicates,
            "max_in_1s_window": _max_in_window(accepted, 1.0),
        }
        if len(accepted) >= 2 and first is not None:
            span = accepted[-1] - first
            out["duration_s"] = span
            out["sent_per_s"] = (len(accepted) - 1) / span if span > 0 else None
            gaps = [b - a for a, b in itertools.pairwise(accepted)]
            out["gap_ms"] = {
                "min": min(gaps) * 1000,
                "median": statistics.median(gaps) * 1000,
                "max": max(gaps) * 1000,
            }
            # Accepted per one-second bin from the first request, and when the 429s came.
            bins = [0] * (int(span) + 1)
            for t in accepted:
                bins[int(t - first)] += 1
            out["accepted_per_second"] = bins
            out["rejected_at_s"] = [round(t - first, 3) for t in rejected_times[:100]]
            # The pace after the first second (the token bucket starts full, so the first second is a burst).
            later = [t for t in accepted if t >= first + 1.0]
            if len(later) >= 2 and later[-1] > later[0]:
                out["steady_per_s"] = (len(later) - 1) / (later[-1] - later[0])
        return out


def _max_in_window(times: Sequence[float], width: float) -> int:
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - width:
            start += 1
        best = max(best, end - start + 1)
    return best


# --------------------------------------------------------------------------- drain leg


def queue_drain_broadcast(url: str, messages: int) -> None:
    """Seed ``messages`` SMS residents and queue one one-segment broadcast to them, due now."""
    from bot.channels.segments import segment_count
    from bot.clock import utcnow
    from bot.engagement.broadcasts import sending as broadcasts
    from bot.engagement.broadcasts.audiences import parse_audience
    from bot.store.db import Database

    seed_residents(url, messages, ("sms",))
    db = Database(url)
    try:
        message = broadcasts.parse_broadcast(DRAIN_BROADCAST)
        now = utcnow()
        with db.transaction() as session:
            _row, count = broadcasts.enqueue(session, message, parse_audience(None), "en", now, now)
        if count != messages:
            raise LegFailure(f"queued {count} messages, expected {messages}")
        for locale in LOCALES:
            text = broadcasts.compose(message, locale)
            if segment_count(text) != 1:
                raise LegFailure(f"the {locale} drain text is {segment_count(text)} segments, not 1")
    finally:
        db.dispose()


def outbox_counts(url: str) -> dict[str, int]:
    """Outbox rows by status, read with a plain connection (no write lock on SQLite)."""
    from sqlalchemy import create_engine, text

    from bot.store.db import normalise_url

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return {
                str(s): int(n) for s, n in conn.execute(text("SELECT status, count(*) FROM outbox GROUP BY status"))
            }
    finally:
        engine.dispose()


@dataclass
class DrainRun:
    backend: str
    workers: int
    rate: float
    messages: int
    worker_rate: float  # LOOPLINE_TWILIO_SEGMENTS_PER_SECOND given to the workers (normally = rate)
    latency_ms: float = 0.0  # how long the fake provider takes to answer each request
    provider: dict[str, Any] = field(default_factory=dict)
    outbox: dict[str, int] = field(default_factory=dict)
    worker_start_s: float | None = None
    stopped_by: str = "count"
    failure: str | None = None
    log_tail: str = ""

    @property
    def fraction(self) -> float | None:
        rate = self.provider.get("sent_per_s")
        return None if rate is None else rate / self.rate

    @property
    def steady_fraction(self) -> float | None:
        rate = self.provider.get("steady_per_s")
        return None if rate is None else rate / self.rate

    @property
    def ok(self) -> bool:
        return (
            self.failure is None
            and self.provider.get("accepted") == self.messages
            and self.outbox.get("sent") == self.messages
            and not self.provider.get("duplicates")
        )

    @property
    def ratio(self) -> float | None:
        """The figure the aim is about: the steady pace as a fraction of the limit (the whole drain's if too short)."""
        steady = self.steady_fraction
        return self.fraction if steady is None else steady

    @property
    def aim_met(self) -> bool:
        ratio = self.ratio
        return self.ok and ratio is not None and ratio >= DRAIN_AIM_FRACTION and not self.provider["rejected_429"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "workers": self.workers,
            "rate": self.rate,
            "worker_rate": self.worker_rate,
            "latency_ms": self.latency_ms,
            "messages": self.messages,
            "ok": self.ok,
            "fraction": self.fraction,
            "steady_fraction": self.steady_fraction,
            "ratio": self.ratio,
            "rejected_429": self.provider.get("rejected_429"),
            "aim_met": self.aim_met,
            "stopped_by": self.stopped_by,
            "worker_start_s": self.worker_start_s,
            "provider": self.provider,
            "outbox": self.outbox,
            "failure": self.failure,
            "log_tail": self.log_tail if not self.ok else "",
        }


def worker_env(url: str, port: int, rate: float, account_sid: str, auth_token: str) -> dict[str, str]:
    env = _clean_env()
    env.update(
        {
            "LOOPLINE_DATABASE_URL": url,
            "LOOPLINE_TWILIO_ACCOUNT_SID": account_sid,
            "LOOPLINE_TWILIO_AUTH_TOKEN": auth_token,
            "LOOPLINE_TWILIO_FROM": TWILIO_FROM,
            "LOOPLINE_TWILIO_API_BASE": f"http://{HOST}:{port}",
            "LOOPLINE_TWILIO_SEGMENTS_PER_SECOND": format(rate, "g"),
            # Quiet hours that never start (start == end) and no frequency cap: only the pace holds rows back.
            "LOOPLINE_QUIET_HOURS": "00:00-00:00",
            "LOOPLINE_FREQUENCY_CAP": "0/7d",
            "LOOPLINE_SIMULATOR": "off",
        }
    )
    return env


def _stop(proc: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # anything it left behind in its own session


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_drain_leg(
    kind: str,
    workdir: Path,
    postgres: str | None,
    workers: int,
    rate: float,
    messages: int,
    log_dir: Path,
    worker_rate: float | None = None,
    latency_ms: float = DRAIN_LATENCY_MS,
) -> DrainRun:
    run = DrainRun(kind, workers, rate, messages, worker_rate if worker_rate is not None else rate, latency_ms)
    account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    provider = FakeTwilio(rate, account_sid, latency_ms / 1000)
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    try:
        with fresh_database(kind, workdir, postgres, f"drain{workers}") as backend:
            _log(f"drain/{kind} x{workers}: queueing {messages} one-segment SMS ({rate:g}/s, {latency_ms:g} ms)")
            queue_drain_broadcast(backend.url, messages)
            provider.start()
            env = worker_env(backend.url, provider.port, run.worker_rate, account_sid, auth_token)
            cmd = [sys.executable, "-m", "bot", "worker", "--log-level", "warning"]
            started = time.monotonic()
            for n in range(workers):
                log_path = log_dir / f"drain-{kind}-x{workers}-worker{n + 1}.log"
                logs.append(log_path)
                with log_path.open("w", encoding="utf-8") as log:
                    log.write(f"$ {shlex.join(cmd)}\n")
                    log.flush()
                    procs.append(
                        subprocess.Popen(
                            cmd,
                            cwd=REPO_ROOT,
                            env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
            # The expected drain takes messages / rate seconds; allow twice that plus start-up.
            deadline = started + 2.0 * messages / rate + 30.0
            while True:
                accepted = len(provider.accepted)
                if run.worker_start_s is None and provider.first_request is not None:
                    run.worker_start_s = provider.first_request - started
                if accepted >= messages:
                    break
                if all(p.poll() is not None for p in procs):
                    raise LegFailure("every worker exited before the outbox was drained")
                if time.monotonic() > deadline:
                    run.stopped_by = "time"
                    break
                time.sleep(0.05)
            # The last rows' bookkeeping (finish) follows the provider's answer: give it a moment.
            settle = time.monotonic() + 10.0
            while time.monotonic() < settle:
                run.outbox = outbox_counts(backend.url)
                if run.outbox.get("sent", 0) >= min(messages, len(provider.accepted)):
                    break
                time.sleep(0.1)
            for proc in procs:
                _stop(proc)
            run.provider = provider.figures()
            run.outbox = outbox_counts(backend.url)
            if run.stopped_by == "time":
                run.failure = f"time limit: {run.provider['accepted']} of {messages} sent"
    except (LegFailure, OSError) as exc:
        run.failure = str(exc)
    except Exception as exc:
        run.failure = f"{type(exc).__name__}: {exc}"
    finally:
        for proc in procs:
            _stop(proc)
        provider.stop()
        if not run.provider:
            run.provider = provider.figures()
    if not run.ok:
        run.log_tail = "\n".join(f"--- {p.name}\n{_tail(p)}" for p in logs)
    return run


# --------------------------------------------------------------------------- report


def _met(flag: bool | None) -> str:
    return "n/a" if flag is None else ("MET" if flag else "NOT MET")


def print_report(enqueues: Sequence[EnqueueRun], drains: Sequence[DrainRun], out: TextIO) -> None:
    if enqueues:
        print("Enqueue (resolve + render + insert + commit), fresh process each:", file=out)
        header = (
            f"{'backend':<10}{'rows':>9}{'seconds':>9}{'rows/s':>10}{'baseline s':>12}{'ratio':>8}"
            f"{'call s':>8}{'commit s':>10}{'peak RSS MiB':>14}{'+ over before':>15}"
        )
        print(header, file=out)
        print("-" * len(header), file=out)
        for run in enqueues:
            if not run.ok:
                print(f"{run.backend:<10}  FAILED: {run.failure}", file=out)
                continue
            s = run.summary()
            print(
                f"{run.backend:<10}{run.recipients:>9}{s['seconds']:>9.2f}{s['rows_per_s']:>10.0f}"
                f"{s['baseline_s']:>12.2f}{s['ratio']:>7.1f}x{s['enqueue_call_s']:>8.2f}{s['commit_s']:>10.2f}"
                f"{s['peak_rss_mib']:>14.0f}{s['peak_increase_mib']:>15.0f}",
                file=out,
            )
        for run in enqueues:
            if run.ok and run.backend == "sqlite":
                s = run.summary()
                aim = s["aim"]
                print(
                    f"aim (SQLite, {ENQUEUE_AIM_RECIPIENTS:,} in <= {ENQUEUE_AIM_S:g} s, <= {MEMORY_AIM_MB:g} MB): "
                    f"time {_met(aim['time_met'])} ({s['seconds']:.2f} s); "
                    f"peak RSS {_met(aim['peak_rss_met'])} ({s['peak_rss_mib'] * MIB / 1e6:.0f} MB); "
                    f"increase over the RSS before enqueue {_met(aim['peak_increase_met'])} "
                    f"({s['peak_increase_mib'] * MIB / 1e6:.0f} MB)",
                    file=out,
                )
        print(file=out)
    if drains:
        print("Drain through a fake Twilio (sliding 1 s window, 429/20429 beyond the limit):", file=out)
        header = (
            f"{'backend':<10}{'workers':>8}{'limit/s':>8}{'paced/s':>8}{'lat ms':>7}{'sent':>6}{'sent/s':>8}"
            f"{'of limit':>9}{'steady/s':>9}{'ratio':>7}{'429s':>6}{'max/1s':>8}{'open':>6}{'dups':>6}"
            f"{'outbox sent':>12}{'aim':>9}"
        )
        print(header, file=out)
        print("-" * len(header), file=out)
        for d in drains:
            p = d.provider
            print(
                f"{d.backend:<10}{d.workers:>8}{d.rate:>8g}{d.worker_rate:>8g}{d.latency_ms:>7g}"
                f"{p.get('accepted', 0):>6}{_fmt(p.get('sent_per_s'), '.2f'):>8}{_fmt(d.fraction, '.3f'):>9}"
                f"{_fmt(p.get('steady_per_s'), '.2f'):>9}{_fmt(d.ratio, '.3f'):>7}{p.get('rejected_429', 0):>6}"
                f"{p.get('max_in_1s_window', 0):>8}{p.get('max_concurrent_requests', 0):>6}{p.get('duplicates', 0):>6}"
                f"{d.outbox.get('sent', 0):>12}{_met(d.aim_met):>9}",
                file=out,
            )
        for d in drains:
            if d.provider.get("rejected_at_s"):
                times = ", ".join(f"{t:.2f}" for t in d.provider["rejected_at_s"][:12])
                more = " ..." if len(d.provider["rejected_at_s"]) > 12 else ""
                print(f"{d.backend} x{d.workers}: 429s at {times}{more} s after the first request", file=out)
        print(
            "'of limit' is (sent - 1) / (last accepted - first request) / limit; 'steady/s' the same pace after the "
            "first second, and 'ratio' that / limit; 'open' the most requests the provider held at once",
            file=out,
        )
        for d in drains:
            workers = "1 worker" if d.workers == 1 else f"{d.workers} workers"
            print(
                f"drain {d.backend}, {workers} at {d.rate:g}/s with {d.latency_ms:g} ms latency: ratio "
                f"{_fmt(d.ratio, '.3f')} ({_fmt(d.provider.get('steady_per_s'), '.1f')}/s steady), "
                f"{d.provider.get('rejected_429', 0)} x 429: {_met(d.aim_met)} "
                f"(aim: >= {DRAIN_AIM_FRACTION:g} of the limit and zero 429s)",
                file=out,
            )


def print_problems(enqueues: Sequence[EnqueueRun], drains: Sequence[DrainRun], out: TextIO) -> None:
    for e in enqueues:
        if e.failure:
            print(f"\n!!! enqueue/{e.backend}: {e.failure}", file=out)
    for d in drains:
        problems = []
        if d.failure:
            problems.append(d.failure)
        if d.provider.get("duplicates"):
            problems.append(f"{d.provider['duplicates']} messages accepted twice by the provider -- a bug")
        if d.provider.get("other_errors"):
            problems.append(f"provider answered {d.provider['other_errors']} (bad requests)")
        if d.failure is None and d.outbox.get("sent") != d.messages:
            problems.append(f"outbox at the end: {d.outbox}")
        if problems:
            print(f"\n!!! drain/{d.backend} x{d.workers}:", file=out)
            for line in problems:
                print(f"!!!   {line}", file=out)
            if d.log_tail:
                print(d.log_tail, file=out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.perf.bench_broadcast",
        description="Broadcast enqueue time and memory, and SMS drain pace against a rate-limited fake Twilio.",
    )
    parser.add_argument("--recipients", type=int, default=100_000, help="broadcast size (default 100000)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("LOOPLINE_TEST_POSTGRES_URL", "").strip() or None,
        help="PostgreSQL server database (default: $LOOPLINE_TEST_POSTGRES_URL); a schema is made and dropped",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only, even if a PostgreSQL URL is set")
    parser.add_argument("--rounds", type=int, default=1, help="enqueue + baseline pairs per backend (default 1)")
    parser.add_argument(
        "--rate", type=float, default=DRAIN_RATE, help=f"provider limit, segments per second (default {DRAIN_RATE:g})"
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=DRAIN_LATENCY_MS,
        help=f"how long the fake provider takes to answer each request (default {DRAIN_LATENCY_MS:g} ms)",
    )
    parser.add_argument(
        "--worker-rate",
        type=float,
        help="LOOPLINE_TWILIO_SEGMENTS_PER_SECOND for the workers (default: --rate); to try a margin",
    )
    parser.add_argument(
        "--messages", type=int, default=DRAIN_MESSAGES, help=f"SMS to drain per drain run (default {DRAIN_MESSAGES})"
    )
    parser.add_argument(
        "--workers", default="1,2", help="worker counts for the drain runs, comma-separated (default 1,2)"
    )
    parser.add_argument("--only", choices=("enqueue", "drain"), help="run one leg only")
    parser.add_argument("--profile", action="store_true", help="also profile one enqueue per backend (cProfile)")
    parser.add_argument("--timeout", type=float, default=900.0, help="time limit of each subprocess (default 900 s)")
    parser.add_argument("--log-dir", metavar="DIR", help="keep the workers' logs in DIR (default: temporary)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is None:
        if args.recipients < 1 or args.rounds < 1 or args.messages < 1 or not 0 < args.rate <= 1000:
            parser.error("--recipients, --rounds, --messages must be positive and --rate within (0, 1000]")
        if args.worker_rate is not None and not 0 < args.worker_rate <= 1000:
            parser.error("--worker-rate must be within (0, 1000]")
        if not 0 <= args.latency_ms <= 5000:
            parser.error("--latency-ms must be within [0, 5000]")
        try:
            args.worker_counts = [int(x) for x in args.workers.split(",") if x.strip()]
        except ValueError:
            parser.error("--workers looks like 1,2")
        if not args.worker_counts or min(args.worker_counts) < 1:
            parser.error("--workers looks like 1,2")
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop workers and drop schemas


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child is not None:
        print(json.dumps(child_main(json.loads(args.child))))
        return 0
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    postgres = None if args.no_postgres else args.postgres
    kinds = ["sqlite"] + (["postgres"] if postgres else [])
    if not postgres:
        _log("no PostgreSQL URL (--postgres or LOOPLINE_TEST_POSTGRES_URL): SQLite only")
    loadavg = list(os.getloadavg())
    enqueues: list[EnqueueRun] = []
    drains: list[DrainRun] = []
    with tempfile.TemporaryDirectory(prefix="loopline-bench-broadcast-") as tmp:
        workdir = Path(tmp)
        log_dir = Path(args.log_dir) if args.log_dir else workdir
        log_dir.mkdir(parents=True, exist_ok=True)
        if args.only != "drain":
            for kind in kinds:
                enqueues.append(
                    run_enqueue_leg(kind, workdir, postgres, args.recipients, args.rounds, args.profile, args.timeout)
                )
        if args.only != "enqueue":
            for kind in kinds:
                for workers in args.worker_counts:
                    drain = run_drain_leg(
                        kind,
                        workdir,
                        postgres,
                        workers,
                        args.rate,
                        args.messages,
                        log_dir,
                        args.worker_rate,
                        args.latency_ms,
                    )
                    drains.append(drain)
                    p = drain.provider
                    _log(
                        f"drain/{kind} x{workers}: {p.get('accepted', 0)} sent, steady "
                        f"{_fmt(drain.ratio, '.3f')} of the limit, {p.get('rejected_429', 0)} x 429"
                    )
    ok = all(e.ok for e in enqueues) and all(d.ok for d in drains)
    if args.json:
        document = {
            "ok": ok,
            "config": {
                "recipients": args.recipients,
                "rounds": args.rounds,
                "rate": args.rate,
                "worker_rate": args.worker_rate or args.rate,
                "latency_ms": args.latency_ms,
                "messages": args.messages,
                "workers": args.worker_counts,
                "postgres": bool(postgres),
            },
            "machine": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg},
            "enqueue": [e.as_dict() for e in enqueues],
            "drain": [d.as_dict() for d in drains],
        }
        json.dump(document, sys.stdout, indent=2)
        print()
        print_problems(enqueues, drains, sys.stderr)
    else:
        print_report(enqueues, drains, sys.stdout)
        print_problems(enqueues, drains, sys.stdout)
        for e in enqueues:
            if e.profile:
                print(f"\n--- cProfile of one enqueue on {e.backend} (slower than unprofiled):", file=sys.stdout)
                print(e.profile, file=sys.stdout)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("[bench] interrupted", file=sys.stderr)
        sys.exit(130)
