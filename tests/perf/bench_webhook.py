"""Inbound SMS webhook benchmark: Loopline's full pipeline versus a bare ASGI app.

Run from the repository root::

    python -m tests.perf.bench_webhook [--requests N] [--seconds S] [--json]
                                       [--postgres URL] [--rounds R]

Both targets run under uvicorn with one worker on 127.0.0.1 and receive the same
kind of signed Twilio inbound SMS requests from 32 keep-alive connections (see
``loadgen.py``). Every figure is also given as a ratio against the bare app
measured in the same run, because absolute numbers on a shared machine are noise.
See README.md for what each number means.

Exit status: 0 if every request of every target got a 2xx answer, 1 if any target
answered non-2xx, lost requests, or failed to start.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import random
import secrets
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from tests.perf import cpu_budget
from tests.perf.bench_broadcast import fresh_database
from tests.perf.loadgen import LoadResult, run_load_in_subprocess

HOST = "127.0.0.1"  # loopback only, by design
WEBHOOK_PATH = "/webhooks/twilio/sms"
HEALTH_PATH = "/healthz"
TO_NUMBER = "+15005550006"
MESSAGE_MARKER = b"<Message"
REPO_ROOT = Path(__file__).resolve().parents[2]

BARE = "bare"
LOOPLINE = "loopline"
LOOPLINE_PG = "loopline-pg"
LOOPLINE_PG2 = "loopline-pg x2"
# The aims of issue 16: the webhook at a fifth of a bare ASGI app on SQLite with p99 under 50 ms; on PostgreSQL
# two serve processes at 1.7 times one.
AIM_RATIO, AIM_P99_MS, AIM_SCALE = 0.20, 50.0, 1.7

Plan = tuple[str, str]  # (From, Body)

# (body, weight): short menu answers dominate, like real residents' traffic.
BODY_MIX: tuple[tuple[str, int], ...] = (
    ("hi", 20),
    ("1", 25),
    ("HELP", 10),
    ("2", 20),
    ("The streetlight on Elm St has been out for a week", 7),
    ("What time is the community meeting on Thursday?", 6),
    ("Hola, ¿cuándo es la próxima reunión del barrio?", 6),
    ("thanks!", 6),
)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(account_sid="AC" + secrets.token_hex(16), auth_token=secrets.token_hex(16))


def make_plan(count: int, warmup: int, seed: int, residents: int) -> tuple[list[Plan], list[Plan]]:
    """(From, Body) for the warm-up and the measured requests.

    ``residents`` distinct numbers are reused at random, so after the first few
    hundred requests most senders are residents Loopline already knows.
    """
    rng = random.Random(seed)
    suffixes = rng.sample(range(10_000), k=min(residents, 10_000))
    numbers = [f"+1415555{suffix:04d}" for suffix in suffixes]
    bodies = [body for body, _ in BODY_MIX]
    weights = [weight for _, weight in BODY_MIX]
    plan = [(rng.choice(numbers), body) for body in rng.choices(bodies, weights, k=warmup + count)]
    return plan[:warmup], plan[warmup:]


def webhook_form(sid: str, creds: Credentials, sender: str, text: str) -> dict[str, str]:
    """The form Twilio posts for one inbound SMS."""
    return {
        "MessageSid": sid,
        "AccountSid": creds.account_sid,
        "From": sender,
        "To": TO_NUMBER,
        "Body": text,
        "NumSegments": "1",
        "NumMedia": "0",
    }


def build_requests(plan: Sequence[Plan], port: int, creds: Credentials) -> list[bytes]:
    """Signed ``POST /webhooks/twilio/sms`` requests, each with a fresh MessageSid."""
    public_url = f"http://{HOST}:{port}"
    validator = RequestValidator(creds.auth_token)
    url = public_url + WEBHOOK_PATH
    head_template = (
        f"POST {WEBHOOK_PATH} HTTP/1.1\r\n"
        f"Host: {HOST}:{port}\r\n"
        "User-Agent: TwilioProxy/1.1\r\n"
        "Accept: */*\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "X-Twilio-Signature: {signature}\r\n"
        "Content-Length: {length}\r\n"
        "\r\n"
    )
    requests: list[bytes] = []
    for sender, text in plan:
        params = webhook_form("SM" + secrets.token_hex(16), creds, sender, text)
        body = urlencode(params).encode("utf-8")
        signature = validator.compute_signature(url, params)
        head = head_template.format(signature=signature, length=len(body))
        requests.append(head.encode("ascii") + body)
    return requests


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError):
                found.extend(int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split())
    return found


def process_tree_cpu_seconds(pid: int) -> float | None:
    """User+system CPU of ``pid`` and its live descendants (Linux /proc; None elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    pending = [pid]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
        except OSError:
            if current == pid:
                return None
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime, stime, cutime, cstime are fields 14-17 of proc(5); fields[0] is field 3.
        total += sum(int(x) for x in fields[11:15])
        pending.extend(_children(current))
    return total / ticks


class Server:
    """A server subprocess with its output in a log file."""

    def __init__(self, name: str, cmd: Sequence[str], env: Mapping[str, str], port: int, log_path: Path):
        self.name = name
        self.cmd = list(cmd)
        self.env = dict(env)
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: TextIO | None = None

    def start(self) -> None:
        self._log = self.log_path.open("a", encoding="utf-8")
        self._log.write(f"$ {shlex.join(self.cmd)}\n")
        self._log.flush()
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our Ctrl-C reaches the orchestrator, which stops us cleanly
        )

    def wait_healthy(self, timeout: float) -> float:
        """Poll GET /healthz until 200; returns the seconds it took."""
        assert self.proc is not None
        started = time.monotonic()
        last_error = "no answer"
        while time.monotonic() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode} before it was healthy")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=2.0)
            try:
                conn.request("GET", HEALTH_PATH)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    return time.monotonic() - started
                last_error = f"HTTP {response.status}"
            except (OSError, http.client.HTTPException) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            finally:
                conn.close()
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after {timeout:.0f}s ({last_error})")

    def cpu_seconds(self) -> float | None:
        return process_tree_cpu_seconds(self.proc.pid) if self.proc is not None else None

    def peak_rss_mb(self) -> float | None:
        """The server process's peak resident memory so far (VmHWM; Linux /proc; None elsewhere or once gone)."""
        if self.proc is None:
            return None
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None
        line = next((ln for ln in status.splitlines() if ln.startswith("VmHWM:")), None)
        return int(line.split()[1]) / 1024 if line else None

    def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        try:
            for sig, wait in ((signal.SIGINT, 15.0), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(wait)
            # Anything the server itself left behind in its own session.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None
        return proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def prepare(cmd: Sequence[str], env: Mapping[str, str], log_path: Path, timeout: float) -> None:
    """Run a set-up command (e.g. ``loopline migrate``) to completion, logging to ``log_path``."""
    with log_path.open("a", encoding="utf-8") as log:
        log.write(f"$ {shlex.join(cmd)}\n")
        log.flush()
        try:
            code = subprocess.run(
                list(cmd),
                cwd=REPO_ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{shlex.join(cmd)} did not finish in {timeout:.0f}s") from exc
    if code != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited with code {code}")


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- benchmark


@dataclass
class TargetRun:
    target: str
    round: int
    port: int
    startup_s: float | None = None
    load: LoadResult | None = None
    warmup_non_2xx: int = 0
    warmup_errors: int = 0
    server_cpu_s: float | None = None
    exit_code: int | None = None
    failure: str | None = None
    log_tail: str = ""
    processes: int = 1
    peak_rss_mb: float | None = None  # the largest of its server processes' peak resident memory
    machine_busy_s: float | None = None  # the whole machine's busy CPU during the load phase
    database_cpu_s: float | None = None  # PostgreSQL's processes' CPU during the load phase

    @property
    def ok(self) -> bool:
        return (
            self.failure is None
            and self.load is not None
            and self.load.non_2xx == 0
            and self.load.errors == 0
            and self.warmup_non_2xx == 0
            and self.warmup_errors == 0
        )

    @property
    def server_cpu_ms_per_req(self) -> float | None:
        if self.server_cpu_s is None or self.load is None or not self.load.completed:
            return None
        return self.server_cpu_s * 1000.0 / self.load.completed

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "round": self.round,
            "port": self.port,
            "ok": self.ok,
            "startup_s": self.startup_s,
            "warmup_non_2xx": self.warmup_non_2xx,
            "warmup_errors": self.warmup_errors,
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_ms_per_req": self.server_cpu_ms_per_req,
            "processes": self.processes,
            "peak_rss_mb": self.peak_rss_mb,
            "client_cpu_fraction": _client_cpu_fraction(self.load),
            "exit_code": self.exit_code,
            "failure": self.failure,
            "load": self.load.as_dict() if self.load is not None else None,
            "log_tail": self.log_tail if not self.ok else "",
        }


def _client_cpu_fraction(load: LoadResult | None) -> float | None:
    if load is None or load.duration_s <= 0:
        return None
    return load.client_cpu_s / load.duration_s


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def bare_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "tests.perf.bare_app:app",
        "--workers",
        "1",
        "--host",
        HOST,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def loopline_command(port: int, template: str | None) -> list[str]:
    if template:
        return [part.format(python=sys.executable, port=port) for part in shlex.split(template)]
    return [sys.executable, "-m", "bot", "serve", "--host", HOST, "--port", str(port)]


def loopline_migrate_command() -> list[str]:
    return [sys.executable, "-m", "bot", "migrate"]


def loopline_env(port: int, database_url: str, creds: Credentials) -> dict[str, str]:
    env = _clean_env()
    env.update(
        {
            "LOOPLINE_DATABASE_URL": database_url,
            "LOOPLINE_PUBLIC_URL": f"http://{HOST}:{port}",
            "LOOPLINE_TWILIO_ACCOUNT_SID": creds.account_sid,
            "LOOPLINE_TWILIO_AUTH_TOKEN": creds.auth_token,
            "LOOPLINE_TWILIO_FROM": TO_NUMBER,
            # Nothing listens on the discard port: the replies must go back as TwiML.
            "LOOPLINE_TWILIO_API_BASE": f"http://{HOST}:9",
        }
    )
    return env


CommandFactory = Callable[[int], list[str]]
EnvFactory = Callable[[int], dict[str, str]]


def _env_factory(database_url: str, creds: Credentials) -> EnvFactory:
    return lambda port: loopline_env(port, database_url, creds)


@dataclass(frozen=True)
class Options:
    requests: int
    seconds: float
    connections: int
    warmup: int
    startup_timeout: float
    request_timeout: float
    seed: int
    residents: int


def run_target(
    target: str,
    round_no: int,
    cmd_for_port: CommandFactory,
    env_for_port: EnvFactory,
    plan: Sequence[Plan],
    warmup_plan: Sequence[Plan],
    creds: Credentials,
    opts: Options,
    log_dir: Path,
    prepare_cmd: Sequence[str] | None = None,
    processes: int = 1,
) -> TargetRun:
    """Start the target (``processes`` servers of it, each on its own port, all given the first one's public URL
    so that every one checks the same signatures), warm it up, load it, stop it."""
    ports = [free_port() for _ in range(processes)]
    run = TargetRun(target=target, round=round_no, port=ports[0], processes=processes)
    requests = build_requests(plan, ports[0], creds)
    warmup = build_requests(warmup_plan, ports[0], creds)
    env = env_for_port(ports[0])
    servers = [
        Server(target, cmd_for_port(port), env, port, log_dir / f"{target.replace(' ', '-')}-{n}.log")
        for n, port in enumerate(ports, 1)
    ]
    load = {"connections": opts.connections, "seconds": opts.seconds, "request_timeout": opts.request_timeout}
    try:
        if prepare_cmd:
            _log(f"{target} (round {round_no}): {shlex.join(prepare_cmd)}")
            prepare(prepare_cmd, env, servers[0].log_path, opts.startup_timeout)
        with contextlib.ExitStack() as stack:
            for server in servers:
                _log(f"{target} (round {round_no}): starting on {HOST}:{server.port}: {shlex.join(server.cmd)}")
                stack.enter_context(running(server))
            run.startup_s = max(server.wait_healthy(opts.startup_timeout) for server in servers)
            _log(f"{target}: healthy after {run.startup_s:.1f}s; warming up with {len(warmup)} requests")
            if warmup:
                warm = run_load_in_subprocess(HOST, ports, warmup, **load)  # type: ignore[arg-type]
                run.warmup_non_2xx, run.warmup_errors = warm.non_2xx, warm.errors
            _log(f"{target}: loading with {len(requests)} requests over {opts.connections} connections")
            cpu_before, budget_before = [server.cpu_seconds() for server in servers], cpu_budget.snapshot()
            run.load = run_load_in_subprocess(HOST, ports, requests, marker=MESSAGE_MARKER, **load)  # type: ignore[arg-type]
            cpu_after, budget_after = [server.cpu_seconds() for server in servers], cpu_budget.snapshot()
            if budget_before is not None and budget_after is not None:
                run.machine_busy_s = budget_after.machine_busy_s - budget_before.machine_busy_s
                run.database_cpu_s = budget_after.database_s - budget_before.database_s
            if None not in cpu_before and None not in cpu_after:
                run.server_cpu_s = sum(a - b for a, b in zip(cpu_after, cpu_before, strict=True))  # type: ignore[operator]
            peaks = [peak for peak in (server.peak_rss_mb() for server in servers) if peak is not None]
            run.peak_rss_mb = max(peaks) if peaks else None
            exited = [s for s in servers if s.proc is not None and s.proc.poll() is not None]
            if exited:
                run.failure = f"server exited during the run (code {exited[0].proc.returncode})"  # type: ignore[union-attr]
    except (RuntimeError, OSError) as exc:
        run.failure = str(exc)
    run.exit_code = servers[0].proc.returncode if servers[0].proc is not None else None
    if not run.ok:
        run.log_tail = "\n".join(server.log_tail() for server in servers)
    if run.load is not None:
        _log(
            f"{target}: {run.load.completed} done in {run.load.duration_s:.1f}s = {run.load.rps:.0f} req/s, "
            f"non-2xx {run.load.non_2xx}, errors {run.load.errors}"
        )
    return run


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def summarize(runs: Sequence[TargetRun]) -> dict[str, dict[str, Any]]:
    """Per target: median req/s ratio and p99 ratio against the bare app of the same round."""
    bare_by_round = {r.round: r for r in runs if r.target == BARE and r.load is not None}
    summary: dict[str, dict[str, Any]] = {}
    targets = list(dict.fromkeys(r.target for r in runs))
    for target in targets:
        rps_ratios: list[float] = []
        p99_ratios: list[float] = []
        cpu_ratios: list[float] = []
        rows = [r for r in runs if r.target == target]
        for r in rows:
            base = bare_by_round.get(r.round)
            if r.load is None or base is None or base.load is None or base.load.rps <= 0:
                continue
            rps_ratios.append(r.load.rps / base.load.rps)
            if base.load.p99_ms > 0:
                p99_ratios.append(r.load.p99_ms / base.load.p99_ms)
            mine, theirs = r.server_cpu_ms_per_req, base.server_cpu_ms_per_req
            if mine is not None and theirs:
                cpu_ratios.append(mine / theirs)
        loads = [r.load for r in rows if r.load is not None]
        peaks = [r.peak_rss_mb for r in rows if r.peak_rss_mb is not None]
        summary[target] = {
            "peak_rss_mb": max(peaks) if peaks else None,
            "ok": all(r.ok for r in rows),
            "rounds": len(rows),
            "rps_median": statistics.median(x.rps for x in loads) if loads else None,
            "p99_ms_median": statistics.median(x.p99_ms for x in loads) if loads else None,
            "rps_ratio": statistics.median(rps_ratios) if rps_ratios else None,
            "p99_ratio": statistics.median(p99_ratios) if p99_ratios else None,
            "server_cpu_ratio": statistics.median(cpu_ratios) if cpu_ratios else None,
            "non_2xx": sum(x.non_2xx for x in loads),
            "errors": sum(x.errors for x in loads),
            "completed": sum(x.completed for x in loads),
            "message_replies": sum(x.marker_hits for x in loads),
        }
    one = {r.round: r for r in runs if r.target == LOOPLINE_PG and r.load is not None and r.load.rps > 0}
    scales = [
        r.load.rps / one[r.round].load.rps for r in runs if r.target == LOOPLINE_PG2 and r.load and r.round in one
    ]  # type: ignore[union-attr]
    if LOOPLINE_PG2 in summary:
        summary[LOOPLINE_PG2]["scale_over_one_process"] = statistics.median(scales) if scales else None
    return summary


def aims(summary: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per aim of issue 16 that this run measured, MET or NOT MET."""
    lines = []
    sqlite = summary.get(LOOPLINE)
    if sqlite and sqlite["rps_ratio"] is not None:
        met = sqlite["rps_ratio"] >= AIM_RATIO and sqlite["p99_ms_median"] < AIM_P99_MS and sqlite["ok"]
        lines.append(
            f"SQLite, one process: {sqlite['rps_ratio']:.3f} of bare (aim >= {AIM_RATIO}), p99 "
            f"{sqlite['p99_ms_median']:.1f} ms (aim < {AIM_P99_MS:g}), errors {sqlite['errors'] + sqlite['non_2xx']}: "
            f"{'MET' if met else 'NOT MET'}"
        )
    two = summary.get(LOOPLINE_PG2)
    if two and two.get("scale_over_one_process") is not None:
        scale = two["scale_over_one_process"]
        lines.append(
            f"PostgreSQL, two serve processes: {scale:.2f}x one process (aim >= {AIM_SCALE}): "
            f"{'MET' if scale >= AIM_SCALE and two['ok'] else 'NOT MET'}"
        )
    for target, s in summary.items():
        if target != BARE and s.get("peak_rss_mb") is not None:
            lines.append(f"{target}: serve peak RSS {s['peak_rss_mb']:.0f} MB")
    return lines


def print_report(runs: Sequence[TargetRun], summary: Mapping[str, Mapping[str, Any]], out: TextIO) -> None:
    bare_by_round = {r.round: r for r in runs if r.target == BARE and r.load is not None}
    header = (
        f"{'target':<13}{'rnd':>4}{'done':>8}{'req/s':>9}{'ratio':>7}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'non-2xx':>9}{'errors':>8}{'<Message>':>11}{'srv CPU ms/req':>16}"
        f"{'loadgen CPU':>13}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for r in runs:
        load = r.load
        if load is None:
            print(f"{r.target:<13}{r.round:>4}  FAILED: {r.failure}", file=out)
            continue
        base = bare_by_round.get(r.round)
        ratio = load.rps / base.load.rps if base is not None and base.load and base.load.rps else None
        fraction = _client_cpu_fraction(load)
        print(
            f"{r.target:<13}{r.round:>4}{load.completed:>8}{load.rps:>9.0f}{_fmt(ratio, '.3f'):>7}"
            f"{load.p50_ms:>9.2f}{load.p90_ms:>9.2f}{load.p99_ms:>9.2f}{load.max_ms:>9.1f}"
            f"{load.non_2xx:>9}{load.errors:>8}{load.marker_hits:>11}"
            f"{_fmt(r.server_cpu_ms_per_req, '.3f'):>16}"
            f"{_fmt(None if fraction is None else fraction * 100, '.0f') + '%':>13}",
            file=out,
        )
    print(file=out)
    for target, s in summary.items():
        if target == BARE:
            continue
        if not s["completed"]:
            print(f"{target}: FAILED, no measurement", file=out)
            continue
        print(
            f"{target}: req/s ratio {_fmt(s['rps_ratio'], '.3f')} of bare, "
            f"p99 {_fmt(s['p99_ms_median'], '.1f')} ms ({_fmt(s['p99_ratio'], '.1f')}x bare), "
            f"server CPU per request {_fmt(s['server_cpu_ratio'], '.1f')}x bare, "
            f"answered with <Message>: {s['message_replies']}/{s['completed']}",
            file=out,
        )
    for line in aims(summary):
        print(line, file=out)
    for r in runs:
        if r.target in (LOOPLINE_PG, LOOPLINE_PG2):
            print(cpu_spent(r), file=out)


def cpu_spent(run: TargetRun) -> str:
    """Where the machine's cores went during a PostgreSQL target's load: the serve processes, PostgreSQL, the load
    generator, and how busy the whole machine was (a throughput bounded by the cores shows here)."""
    load, seconds = run.load, run.load.duration_s if run.load is not None else 0.0
    if load is None or seconds <= 0 or None in (run.server_cpu_s, run.machine_busy_s, run.database_cpu_s):
        return f"{run.target} (round {run.round}): CPU not measured"
    per = {
        "serve": run.server_cpu_s or 0.0,
        "PostgreSQL": run.database_cpu_s or 0.0,
        "load generator": load.client_cpu_s,
    }
    shares = ", ".join(f"{name} {used / seconds:.2f}" for name, used in per.items())
    busy = (run.machine_busy_s or 0.0) / seconds
    each = sum(per.values()) * 1000 / max(load.completed, 1)
    return (
        f"{run.target} (round {run.round}): cores used during the load: {shares}; the machine {busy:.2f} of "
        f"{cpu_budget.cores()} busy; {each:.2f} ms of CPU per request in all"
    )


def print_problems(runs: Sequence[TargetRun], out: TextIO) -> None:
    """Everything that went wrong, loudly: non-2xx answers mean a bug in the target."""
    for r in runs:
        problems: list[str] = []
        if r.failure:
            problems.append(f"failed: {r.failure}")
        if r.load is not None and r.load.non_2xx:
            statuses = {k: v for k, v in sorted(r.load.statuses.items()) if not 200 <= k < 300}
            problems.append(f"{r.load.non_2xx} NON-2xx responses {statuses} -- this is a bug")
            problems.extend(f"    e.g. {sample}" for sample in r.load.non_2xx_samples)
        if r.load is not None and r.load.errors:
            problems.append(f"{r.load.errors} requests without a response")
            problems.extend(f"    e.g. {sample}" for sample in r.load.error_samples)
        if r.load is not None and r.load.stopped_by == "time":
            problems.append(f"note: time limit reached, {r.load.sent} of {r.load.planned} requests sent (not an error)")
        if r.load is not None and r.load.marker and r.load.completed - r.load.non_2xx > r.load.marker_hits:
            unmarked = r.load.completed - r.load.non_2xx - r.load.marker_hits
            problems.append(f"note: {unmarked} 2xx responses without {r.load.marker}> (no reply sent)")
            problems.extend(f"    e.g. {sample}" for sample in r.load.unmarked_samples)
        if r.warmup_non_2xx or r.warmup_errors:
            problems.append(f"warm-up: {r.warmup_non_2xx} non-2xx, {r.warmup_errors} without a response")
        if problems:
            print(file=out)
            print(f"!!! {r.target} (round {r.round}):", file=out)
            for line in problems:
                print(f"!!!   {line}", file=out)
            if r.log_tail:
                print(f"--- last lines of the {r.target} server log:", file=out)
                print(r.log_tail, file=out)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.perf.bench_webhook",
        description="Inbound SMS webhook throughput/latency: Loopline versus a bare ASGI app.",
    )
    parser.add_argument("--requests", type=int, default=20_000, help="requests per target (default 20000)")
    parser.add_argument("--seconds", type=float, default=120.0, help="time limit per target's load phase (default 120)")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--warmup", type=int, default=500, help="warm-up requests per target (default 500)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="repeat bare+Loopline R times; ratios are medians (default 1)"
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="PostgreSQL server database (default: $LOOPLINE_TEST_POSTGRES_URL): Loopline is run on it with one and "
        "with two serve processes, each on a fresh schema dropped afterwards",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only, even if the variable is set")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite Loopline run")
    parser.add_argument("--seed", type=int, default=1, help="seed for senders and bodies (default 1)")
    parser.add_argument("--residents", type=int, default=2000, help="distinct sender numbers (default 2000)")
    parser.add_argument("--startup-timeout", type=float, default=60.0, help=argparse.SUPPRESS)
    parser.add_argument("--request-timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-dir", metavar="DIR", help="keep the servers' logs in DIR (default: a temporary directory)"
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
    # Plumbing check: run this command (with {python} and {port} placeholders) instead of Loopline.
    parser.add_argument("--target-cmd", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.connections < 1 or args.rounds < 1 or args.seconds <= 0:
        parser.error("--requests, --connections, --rounds and --seconds must be positive")
    return args


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the servers


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    opts = Options(
        requests=args.requests,
        seconds=args.seconds,
        connections=args.connections,
        warmup=args.warmup,
        startup_timeout=args.startup_timeout,
        request_timeout=args.request_timeout,
        seed=args.seed,
        residents=args.residents,
    )
    creds = Credentials.generate()
    warmup_plan, plan = make_plan(opts.requests, opts.warmup, opts.seed, opts.residents)
    loadavg = list(os.getloadavg())
    runs: list[TargetRun] = []

    postgres = None if args.no_postgres else (args.postgres or os.environ.get("LOOPLINE_TEST_POSTGRES_URL") or None)
    with tempfile.TemporaryDirectory(prefix="loopline-bench-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        sqlite_url = f"sqlite:///{workdir / 'bench.db'}"
        log_dir = Path(args.log_dir) if args.log_dir else workdir
        log_dir.mkdir(parents=True, exist_ok=True)
        # (name, command, environment, set-up command run before each start)
        targets: list[tuple[str, CommandFactory, EnvFactory, list[str] | None, int]] = [
            (BARE, bare_command, lambda port: _clean_env(), None, 1)
        ]
        if not args.no_sqlite:
            targets.append(
                (
                    LOOPLINE,
                    lambda port: loopline_command(port, args.target_cmd),
                    lambda port: loopline_env(port, sqlite_url, creds),
                    None,  # `loopline serve` migrates the embedded SQLite database itself
                    1,
                )
            )
        if postgres:
            for name, processes in ((LOOPLINE_PG, 1), (LOOPLINE_PG2, 2)):
                backend = stack.enter_context(fresh_database("postgres", workdir, postgres, name.replace(" ", "")))
                targets.append(
                    (
                        name,
                        lambda port: loopline_command(port, args.target_cmd),
                        _env_factory(backend.url, creds),
                        None if args.target_cmd else loopline_migrate_command(),
                        processes,
                    )
                )
        for round_no in range(1, args.rounds + 1):
            # Odd rounds run the baseline first, even rounds last (A B B A ...), so a
            # machine that slowly gets busier or quieter does not favour one target.
            ordered = targets if round_no % 2 else targets[::-1]
            for target, cmd_for_port, env_for_port, prepare_cmd, processes in ordered:
                runs.append(
                    run_target(
                        target,
                        round_no,
                        cmd_for_port,
                        env_for_port,
                        plan,
                        warmup_plan,
                        creds,
                        opts,
                        log_dir,
                        prepare_cmd,
                        processes,
                    )
                )

    summary = summarize(runs)
    ok = all(r.ok for r in runs)
    if args.json:
        document = {
            "ok": ok,
            "config": {
                "requests": opts.requests,
                "seconds": opts.seconds,
                "connections": opts.connections,
                "warmup": opts.warmup,
                "rounds": args.rounds,
                "seed": opts.seed,
                "residents": opts.residents,
                "target_cmd": args.target_cmd,
                "postgres": bool(postgres),
            },
            "machine": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg},
            "summary": summary,
            "runs": [r.as_dict() for r in runs],
        }
        json.dump(document, sys.stdout, indent=2)
        print()
        print_problems(runs, sys.stderr)
    else:
        print_report(runs, summary, sys.stdout)
        print_problems(runs, sys.stdout)
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("[bench] interrupted", file=sys.stderr)
        sys.exit(130)
