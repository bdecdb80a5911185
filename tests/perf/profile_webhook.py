"""Where an inbound SMS webhook's time goes: the real app driven in-process (no sockets), under cProfile, with the
SQL statements each message costs counted.

    .venv/bin/python -m tests.perf.profile_webhook                 # 3,000 messages, top 25 functions
    .venv/bin/python -m tests.perf.profile_webhook --concurrency 32 --top 40 --messages 5000

The requests are the webhook benchmark's (same mix of texts and senders, signed with twilio's validator); they go
straight to the ASGI app, `--concurrency` at a time, on a fresh SQLite file (or `--postgres URL`, a new schema
dropped afterwards). Not part of pytest: it is a tool for reading a profile, not a measurement to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import os
import pstats
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import event

from tests.perf.bench_webhook import TO_NUMBER, WEBHOOK_PATH, Credentials, make_plan, webhook_form

PUBLIC_URL = "http://bench.invalid"
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")  # SQLite's trace shows values: these fold them


def _environment(database_url: str, creds: Credentials) -> None:
    for key in [k for k in os.environ if k.startswith("LOOPLINE_")]:
        del os.environ[key]
    os.environ.update(
        {
            "LOOPLINE_DATABASE_URL": database_url,
            "LOOPLINE_PUBLIC_URL": PUBLIC_URL,
            "LOOPLINE_TWILIO_ACCOUNT_SID": creds.account_sid,
            "LOOPLINE_TWILIO_AUTH_TOKEN": creds.auth_token,
            "LOOPLINE_TWILIO_FROM": TO_NUMBER,
            "LOOPLINE_TWILIO_API_BASE": "http://127.0.0.1:9",
        }
    )


def _requests(count: int, warmup: int, creds: Credentials) -> tuple[list[tuple[bytes, bytes]], int]:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(creds.auth_token)
    before, measured = make_plan(count, warmup, seed=1, residents=2000)
    built = []
    for index, (sender, text) in enumerate([*before, *measured]):
        params = webhook_form(f"SM{index:032x}", creds, sender, text)
        built.append(
            (urlencode(params).encode(), validator.compute_signature(PUBLIC_URL + WEBHOOK_PATH, params).encode())
        )
    return built, len(before)


async def _call(app: Any, body: bytes, signature: bytes) -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": WEBHOOK_PATH,
        "raw_path": WEBHOOK_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("bench.invalid", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"host", b"bench.invalid"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"x-twilio-signature", signature),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


LATENCIES: list[tuple[float, float]] = []  # (when it started, how long it took), seconds


async def _drive(app: Any, requests: Sequence[tuple[bytes, bytes]], concurrency: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    queue = iter(requests)
    LATENCIES.clear()

    async def lane() -> None:
        for body, signature in queue:
            started = time.perf_counter()
            statuses[await _call(app, body, signature)] += 1
            LATENCIES.append((started, time.perf_counter() - started))

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return statuses


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() after the warm-up, as serve does")
    parser.add_argument("--top", type=int, default=25, help="functions listed (0: no profiler, wall time only)")
    parser.add_argument("--postgres", help="a PostgreSQL URL instead of SQLite (a schema made and dropped)")
    parser.add_argument("--statements", action="store_true", help="list each distinct statement with its count")
    parser.add_argument("--dump", help="also write the raw profile to this file (read it with pstats)")
    args = parser.parse_args(argv)
    creds = Credentials.generate()
    from tests.perf.bench_broadcast import fresh_database

    kind = "postgres" if args.postgres else "sqlite"
    with tempfile.TemporaryDirectory() as folder, fresh_database(kind, Path(folder), args.postgres, "profile") as db:
        return _run(args, db.url, creds)


def _run(args: argparse.Namespace, url: str, creds: Credentials) -> int:
    _environment(url, creds)
    from bot.runtime import Runtime
    from bot.settings import load_settings
    from bot.web.app import create_app

    runtime = Runtime(load_settings(os.environ))
    runtime.prepare(migrate=True)
    app = create_app(runtime, deliver=False)
    requests, warmup = _requests(args.messages, args.warmup, creds)
    statements: Counter[str] = Counter()
    texts: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        statements[statement.split(None, 1)[0].upper()] += 1
        if args.statements:
            texts[_LITERALS.sub("?", " ".join(statement.split()))[:150]] += 1

    asyncio.run(_drive(app, requests[:warmup], args.concurrency))
    if args.freeze:
        gc.freeze()
    if runtime.db.is_sqlite:  # every statement, those run straight on the driver too
        with runtime.db.engine.connect() as connection:
            driver = connection.connection.dbapi_connection
            assert driver is not None
            driver.set_trace_callback(lambda sql: count(None, None, sql))
    else:
        event.listen(runtime.db.engine, "before_cursor_execute", count)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    if args.top:
        profiler.enable()
    statuses = asyncio.run(_drive(app, requests[warmup:], args.concurrency))
    profiler.disable()
    elapsed = time.perf_counter() - started
    runtime.close()
    measured = len(requests) - warmup
    if args.top:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
        if args.dump:
            stats.dump_stats(args.dump)
    per_message = {kind: round(n / measured, 2) for kind, n in statements.most_common()}
    where = "under the profiler" if args.top else "(no profiler)"
    each = elapsed / measured * 1000
    print(f"statuses {dict(statuses)}; {measured} messages in {elapsed:.2f} s {where}: {each:.3f} ms each")
    took = sorted(t for _, t in LATENCIES)
    tail = [f"p{p} {took[min(len(took) - 1, len(took) * p // 100)] * 1000:.1f} ms" for p in (50, 90, 99)]
    first = LATENCIES[0][0] if LATENCIES else 0.0
    slow = [f"{(at - first):.2f}s:{t * 1000:.0f}ms" for at, t in LATENCIES if t > 3 * took[len(took) // 2]][:20]
    print(f"latency in the app {', '.join(tail)}, max {took[-1] * 1000:.1f} ms; slow ones at: {' '.join(slow)}")
    print(f"SQL statements per message: {round(sum(statements.values()) / measured, 2)} {per_message}")
    for text, n in texts.most_common():
        print(f"{n / measured:6.3f}  {text}")
    return 0 if set(statuses) <= {200} else 1


if __name__ == "__main__":
    sys.exit(main())
