"""Staff-side benchmark at city scale: dashboard pages, public pages, the JSON API and the inbox export.

Run from the repository root::

    python -m tests.perf.bench_dashboard [--residents N] [--postgres URL] [--json]
                                         [--requests N] [--connections C] [--seconds S]

A fresh database (a SQLite file; with --postgres also a new schema in that database, dropped afterwards) is
seeded with Core bulk inserts (``city_seed.py``: 100,000 residents, 30,000 input items, a poll answered by
20,000 residents, 200,000 messages today, 50,000 outbox rows...). Then ``loopline serve --no-delivery`` runs on
127.0.0.1 with one worker, a staff user signs in through the real /login form, and every target is measured
from a separate process with keep-alive connections: first one connection (one person at a time: latency is
the server's own time), then C connections (several people at once: throughput, and queueing). GET /healthz,
measured the same way in the same run, is the baseline every figure is also given against. See README.md.

Exit status: 0 when every request got a 2xx answer with the expected content, 1 otherwise. Missing the aim
(p95 under 300 ms on one connection, for pages) is reported, not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import signal
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from tests.perf.bench_broadcast import fresh_database
from tests.perf.bench_webhook import Server, _clean_env, free_port, running
from tests.perf.city_seed import Seeded, seed_city
from tests.perf.phase_client import Client, Phase

HOST = "127.0.0.1"  # loopback only, by design
TIMEZONE = "America/Los_Angeles"
SESSION_COOKIE = "loopline_session"
LOGIN_CSRF_COOKIE = "loopline_login_csrf"
PAGE_AIM_MS = 300.0
SEQUENTIAL, CONCURRENT = "sequential", "concurrent"
SERVE_FLAGS = ["--no-delivery", "--log-level", "warning"]
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Target:
    """One URL to measure: who asks for it (no one, a signed-in browser, an API token) and what it must contain."""

    name: str
    path: str
    kind: str  # baseline | page | public | api | export
    auth: str  # none | session | bearer
    marker: bytes


def targets_for(seeded: Seeded) -> list[Target]:
    """Every measured URL, /healthz first."""
    page, api = "session", "bearer"
    return [
        Target("healthz", "/healthz", "baseline", "none", b'"ok"'),
        Target("overview", "/dashboard", "page", page, b"<h1"),
        Target("inbox", "/dashboard/inbox", "page", page, b'id="inbox-count"'),
        Target("inbox filtered", f"/dashboard/inbox?{seeded.filtered_query}", "page", page, b'id="inbox-count"'),
        Target("inbox item", f"/dashboard/inbox/{seeded.item_ref}", "page", page, f"#{seeded.item_ref}".encode()),
        Target("poll results", f"/dashboard/polls/{seeded.poll_slug}", "page", page, b"<table"),
        Target("decisions", "/dashboard/decisions", "page", page, b"decision-1"),
        Target("decision detail", f"/dashboard/decisions/{seeded.decision_slug}", "page", page, b"<h1"),
        Target("public (es)", "/public?lang=es", "public", "none", b'lang="es"'),
        Target("public decision", f"/public/decisions/{seeded.decision_slug}", "public", "none", b"<h1"),
        Target("api items", "/api/v1/input-items?limit=100", "api", api, b'"data"'),
        Target("api poll results", f"/api/v1/polls/{seeded.poll_slug}/results", "api", api, b'"questions"'),
        Target("api representation", f"/api/v1/polls/{seeded.poll_slug}/representation", "api", api, b'"dimensions"'),
        Target("api representation (all)", "/api/v1/representation", "api", api, b'"dimensions"'),
        Target("api weighted", f"/api/v1/polls/{seeded.poll_slug}/weighted", "api", api, b'"effective_size"'),
        Target("inbox CSV", "/dashboard/inbox.csv", "export", page, b"ref,kind"),
    ]


def request_bytes(port: int, path: str, cookie: str | None = None, bearer: str | None = None) -> bytes:
    """A keep-alive GET with the credentials it needs."""
    lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: */*", "User-Agent: loopline-bench"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if bearer:
        lines.append(f"Authorization: Bearer {bearer}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


# --------------------------------------------------------------------------- one backend


def sign_in(port: int, email: str, password: str) -> str:
    """Sign in through the real form (CSRF cookie + field); the session cookie's value."""
    conn = http.client.HTTPConnection(HOST, port, timeout=60)
    try:
        conn.request("GET", "/login")
        form = conn.getresponse()
        html = form.read().decode("utf-8")
        cookies: SimpleCookie = SimpleCookie()
        for header in form.headers.get_all("set-cookie") or []:
            cookies.load(header)
        found = CSRF_FIELD.search(html)
        if found is None or LOGIN_CSRF_COOKIE not in cookies:
            raise RuntimeError("the sign-in form has no CSRF token")
        body = urlencode({"email": email, "password": password, "csrf_token": found.group(1), "next": "/dashboard"})
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{LOGIN_CSRF_COOKIE}={cookies[LOGIN_CSRF_COOKIE].value}",
        }
        conn.request("POST", "/login", body, headers)
        answer = conn.getresponse()
        answer.read()
        cookies = SimpleCookie()
        for header in answer.headers.get_all("set-cookie") or []:
            cookies.load(header)
        if answer.status != 303 or SESSION_COOKIE not in cookies:
            raise RuntimeError(f"sign-in failed: HTTP {answer.status}")
        return cookies[SESSION_COOKIE].value
    finally:
        conn.close()


@dataclass
class TargetRun:
    target: Target
    phases: dict[str, Phase] = field(default_factory=dict)
    failure: str | None = None


@dataclass
class BackendRun:
    name: str
    seed_s: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    startup_s: float | None = None
    targets: list[TargetRun] = field(default_factory=list)
    failure: str | None = None
    log_tail: str = ""

    @property
    def ok(self) -> bool:
        phases = [p for t in self.targets for p in t.phases.values()]
        return (
            self.failure is None
            and bool(phases)
            and all(t.failure is None for t in self.targets)
            and all(p.errors == 0 and p.bad == 0 for p in phases)
        )


@dataclass(frozen=True)
class Options:
    requests: int
    export_requests: int
    connections: int
    seconds: float
    warmup: int
    timeout: float
    only: frozenset[str]


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def serve_command(port: int) -> list[str]:
    """`loopline serve` with one uvicorn worker and no delivery loop (the seeded outbox must stay as it is)."""
    return [sys.executable, "-m", "bot", "serve", "--host", HOST, "--port", str(port), *SERVE_FLAGS]


def measure(
    server: Server, client: Client, port: int, target: Target, creds: dict[str, str], opts: Options
) -> TargetRun:
    """Warm the target up, then one phase on one connection and one on several, with the server's CPU time."""
    run = TargetRun(target)
    request = request_bytes(
        port,
        target.path,
        cookie=f"{SESSION_COOKIE}={creds['cookie']}" if target.auth == "session" else None,
        bearer=creds["token"] if target.auth == "bearer" else None,
    )
    count = opts.export_requests if target.kind == "export" else opts.requests
    common = {"port": port, "request": request, "marker": target.marker, "timeout": opts.timeout}
    limit = opts.seconds + opts.timeout + 30
    try:
        if opts.warmup:
            client.run(limit, connections=1, count=opts.warmup, seconds=opts.seconds, **common)
        for name, connections in ((SEQUENTIAL, 1), (CONCURRENT, opts.connections)):
            before = server.cpu_seconds()
            phase = client.run(limit, connections=connections, count=count, seconds=opts.seconds, **common)
            after = server.cpu_seconds()
            if before is not None and after is not None and phase.completed:
                phase.server_cpu_ms_per_req = (after - before) * 1000 / phase.completed
            run.phases[name] = phase
            _log(
                f"  {target.name:<17} {name:<10} n={phase.completed:<4} p50 {phase.p50_ms:8.1f} ms  "
                f"p95 {phase.p95_ms:8.1f} ms  {phase.rps:7.1f} req/s  bad {phase.bad} errors {phase.errors}"
            )
    except (RuntimeError, OSError) as exc:
        run.failure = str(exc)
    return run


def run_backend(name: str, url: str, workdir: Path, residents: int, seed: int, opts: Options) -> BackendRun:
    """Seed, serve, sign in, measure every target, stop."""
    result = BackendRun(name)
    try:
        _log(f"{name}: seeding {residents:,} residents ...")
        seeded = seed_city(url, residents, TIMEZONE, seed)
    except Exception as exc:
        result.failure = f"seeding failed: {type(exc).__name__}: {exc}"
        return result
    result.seed_s, result.counts = seeded.seconds, seeded.counts
    _log(f"{name}: seeded in {seeded.seconds:.1f}s: {seeded.counts}")
    port = free_port()
    env = _clean_env()
    env.update(
        {
            "LOOPLINE_DATABASE_URL": url,
            "LOOPLINE_PUBLIC_URL": f"http://{HOST}:{port}",
            "LOOPLINE_TIMEZONE": TIMEZONE,
        }
    )
    server = Server(name, serve_command(port), env, port, workdir / f"{name}.log")
    client = Client()
    try:
        with running(server):
            result.startup_s = server.wait_healthy(120.0)
            creds = {"cookie": sign_in(port, seeded.staff_email, seeded.password), "token": seeded.api_token}
            for target in targets_for(seeded):
                if opts.only and target.name not in opts.only and target.kind != "baseline":
                    continue
                result.targets.append(measure(server, client, port, target, creds, opts))
                if server.proc is not None and server.proc.poll() is not None:
                    result.failure = f"the server exited (code {server.proc.returncode})"
                    break
            peak = server.peak_rss_mb()
            if peak is not None:  # issue 16 asks serve to stay under 150 MB with 100,000 residents
                _log(f"{name}: serve peak RSS {peak:.0f} MB over {residents:,} residents (aim < 150 MB)")
    except (RuntimeError, OSError) as exc:
        result.failure = str(exc)
    finally:
        client.close()
    if not result.ok:
        result.log_tail = server.log_tail()
    return result


# --------------------------------------------------------------------------- report


def _ratio(value: float, base: float) -> float | None:
    return value / base if base > 0 else None


def summary_rows(backend: BackendRun) -> list[dict[str, Any]]:
    """Per target: the figures, their ratios to /healthz of the same run, and whether the aim is met."""
    base = next((t for t in backend.targets if t.target.kind == "baseline"), None)
    base_seq = base.phases.get(SEQUENTIAL) if base else None
    base_conc = base.phases.get(CONCURRENT) if base else None
    rows = []
    for run in backend.targets:
        seq, conc = run.phases.get(SEQUENTIAL), run.phases.get(CONCURRENT)
        answered = run.failure is None and all(p.bad == 0 and p.errors == 0 for p in run.phases.values())
        aim = None
        if seq is not None and answered and run.target.kind in ("page", "public", "api"):
            aim = seq.p95_ms < PAGE_AIM_MS
        rows.append(
            {
                "target": run.target.name,
                "path": run.target.path,
                "kind": run.target.kind,
                "failure": run.failure,
                "answered": answered,
                "sequential": asdict(seq) if seq else None,
                "concurrent": asdict(conc) if conc else None,
                "p50_ratio": _ratio(seq.p50_ms, base_seq.p50_ms) if seq and base_seq else None,
                "p95_ratio": _ratio(seq.p95_ms, base_seq.p95_ms) if seq and base_seq else None,
                "rps_ratio": _ratio(conc.rps, base_conc.rps) if conc and base_conc else None,
                "aim_met": aim,
            }
        )
    return rows


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _share(ratio: float | None) -> str:
    """A throughput ratio as a fraction people read at a glance: 0.02 -> "1/50"."""
    if ratio is None or ratio <= 0:
        return "-"
    return f"{ratio:.2f}" if ratio >= 0.5 else f"1/{1 / ratio:.0f}"


def print_report(backends: Sequence[BackendRun], opts: Options, out: TextIO) -> None:
    for backend in backends:
        print(f"\n== {backend.name}: seeded in {_fmt(backend.seed_s, '.1f')} s; {backend.counts}", file=out)
        if backend.failure:
            print(f"!!! {backend.failure}", file=out)
        header = (
            f"{'target':<18}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'x hz p95':>9}{'KiB':>7}"
            f"{'CPU ms':>8} |{'c':>3}{'p95 ms':>9}{'req/s':>8}{'of hz':>9}  aim (p95 < {PAGE_AIM_MS:.0f} ms)"
        )
        print(header, file=out)
        print("-" * len(header), file=out)
        for row in summary_rows(backend):
            seq, conc = row["sequential"], row["concurrent"]
            if seq is None or conc is None:
                print(f"{row['target']:<18} FAILED: {row['failure']}", file=out)
                continue
            aim = {None: "", True: "met", False: "NOT MET"}[row["aim_met"]]
            if row["kind"] == "export":
                aim = "(export: reported only)"
            if not row["answered"]:
                aim = "BAD ANSWERS (below)"
            print(
                f"{row['target']:<18}{seq['completed']:>5}{seq['p50_ms']:>9.1f}{seq['p95_ms']:>9.1f}"
                f"{seq['p99_ms']:>9.1f}{_fmt(row['p95_ratio'], '.1f'):>9}{seq['mean_kib']:>7.0f}"
                f"{_fmt(seq['server_cpu_ms_per_req'], '.1f'):>8} |{conc['connections']:>3}{conc['p95_ms']:>9.1f}"
                f"{conc['rps']:>8.1f}{_share(row['rps_ratio']):>9}  {aim}",
                file=out,
            )
        for run in backend.targets:
            for name, phase in run.phases.items():
                if phase.bad or phase.errors:
                    print(f"!!! {run.target.name} ({name}): {phase.bad} bad answers, {phase.errors} errors", file=out)
                    for sample in phase.samples:
                        print(f"!!!     {sample}", file=out)
                if phase.stopped_by == "time" and name == SEQUENTIAL:
                    print(f"note: {run.target.name} stopped at the {opts.seconds:g} s limit", file=out)
        if backend.log_tail:
            print(f"--- end of the {backend.name} server log:\n{backend.log_tail}", file=out)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.perf.bench_dashboard",
        description="Staff dashboard, public page and API latency at city scale, against /healthz in the same run.",
    )
    parser.add_argument("--residents", type=int, default=100_000, help="city size (default 100000)")
    parser.add_argument("--postgres", metavar="URL", help="also run on this PostgreSQL database (a new schema)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run (use with --postgres)")
    parser.add_argument("--requests", type=int, default=100, help="requests per target and phase (default 100)")
    parser.add_argument("--export-requests", type=int, default=10, help="requests per phase for exports (10)")
    parser.add_argument("--connections", type=int, default=4, help="connections of the concurrent phase (4)")
    parser.add_argument("--seconds", type=float, default=6.0, help="time limit of each phase (default 6)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured requests per target first (2)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated city (default 1)")
    parser.add_argument("--only", default="", help="comma-separated target names (healthz is always measured)")
    parser.add_argument("--log-dir", metavar="DIR", help="keep the server logs in DIR")
    parser.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    parser.add_argument("--timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.residents, args.requests, args.export_requests, args.connections) < 1 or args.seconds <= 0:
        parser.error("--residents, --requests, --export-requests, --connections and --seconds must be positive")
    if args.residents < 200:
        parser.error("--residents must be at least 200")
    placeholder = Seeded({}, 0.0, "", "", "", "poll", "decision", 1, "")
    unknown = {name.strip() for name in args.only.split(",") if name.strip()} - {
        target.name for target in targets_for(placeholder)
    }
    if unknown:
        parser.error(f"--only: no target named {', '.join(sorted(unknown))}")
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


@contextlib.contextmanager
def _workdir(log_dir: str | None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="loopline-bench-dash-") as tmp:
        path = Path(log_dir) if log_dir else Path(tmp)
        path.mkdir(parents=True, exist_ok=True)
        yield path


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    opts = Options(
        requests=args.requests,
        export_requests=args.export_requests,
        connections=args.connections,
        seconds=args.seconds,
        warmup=args.warmup,
        timeout=args.timeout,
        only=frozenset(name.strip() for name in args.only.split(",") if name.strip()),
    )
    loadavg = list(os.getloadavg())
    backends: list[BackendRun] = []
    with _workdir(args.log_dir) as workdir:
        kinds = ([] if args.no_sqlite else ["sqlite"]) + (["postgres"] if args.postgres else [])
        for kind in kinds:
            with fresh_database(kind, workdir, args.postgres, "dashboard") as backend:
                backends.append(run_backend(kind, backend.url, workdir, args.residents, args.seed, opts))
    ok = bool(backends) and all(b.ok for b in backends)
    if args.json:
        document = {
            "ok": ok,
            "config": {**asdict(opts), "only": sorted(opts.only), "residents": args.residents, "seed": args.seed},
            "machine": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg},
            "aim_ms": PAGE_AIM_MS,
            "backends": [
                {
                    "name": b.name,
                    "ok": b.ok,
                    "seed_s": b.seed_s,
                    "counts": b.counts,
                    "startup_s": b.startup_s,
                    "failure": b.failure,
                    "targets": summary_rows(b),
                    "log_tail": b.log_tail,
                }
                for b in backends
            ],
        }
        json.dump(document, sys.stdout, indent=2)
        print()
    else:
        print(f"machine: {os.cpu_count()} CPUs, load average at start {loadavg[0]:.2f}")
        print_report(backends, opts, sys.stdout)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("[bench] interrupted", file=sys.stderr)
        sys.exit(130)
