"""A small closed-loop HTTP/1.1 load generator on raw asyncio streams.

Each of ``connections`` keep-alive connections sends one request, reads the whole
response and sends the next, pulling request byte strings from a shared list in
order (so the list is spread over the connections round-robin as they free up)
until every request has been sent or the time limit has passed. Requests still in
flight at the time limit are allowed to finish (each is bounded by
``request_timeout``), so a run always stops by itself.

It deliberately avoids httpx/aiohttp: on a two-core machine their per-request
client overhead would be a large part of what is measured. Only the status line,
``Content-Length``/``Transfer-Encoding`` and ``Connection`` headers are parsed.

Loopback only: :func:`run_load` refuses any host that is not a loopback address.

Run it in its own process (:func:`run_load_in_subprocess`) so it shares an event
loop, and the GIL, with nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

MAX_SAMPLES = 5
SAMPLE_BYTES = 300


@dataclass
class LoadResult:
    """What one load run measured. Latencies are in milliseconds."""

    connections: int
    planned: int
    sent: int
    completed: int
    errors: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    non_2xx: int
    statuses: dict[int, int]
    marker: str | None
    marker_hits: int
    stopped_by: str
    client_cpu_s: float
    non_2xx_samples: list[str] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    unmarked_samples: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["statuses"] = {str(k): v for k, v in sorted(self.statuses.items())}
        return data


class ProtocolError(Exception):
    """The server's response could not be parsed."""


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil(n * pct / 100)
    return sorted_values[min(int(rank), len(sorted_values)) - 1]


def _check_loopback(host: str) -> None:
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"refusing to generate load against non-loopback address {host!r}")


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise ProtocolError(f"bad chunk size line {size_line[:40]!r}") from exc
        if size == 0:
            # Trailer section: header lines until an empty line.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one HTTP/1.1 response: (status, body, keep_alive)."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {head[:40]!r}")
        try:
            status = int(head[9:12])
        except ValueError as exc:
            raise ProtocolError(f"bad status line {head[:40]!r}") from exc
        if 100 <= status < 200:  # interim response; the real one follows
            continue
        break
    lower = head.lower()
    keep_alive = not head.startswith(b"HTTP/1.0") and b"\r\nconnection: close" not in lower
    start = lower.find(b"\r\ncontent-length:")
    if start >= 0:
        end = lower.find(b"\r\n", start + 2)
        try:
            length = int(lower[start + 17 : end])
        except ValueError as exc:
            raise ProtocolError("bad Content-Length") from exc
        body = await reader.readexactly(length) if length else b""
    elif b"\r\ntransfer-encoding: chunked" in lower:
        body = await _read_chunked(reader)
    elif status in (204, 304):
        body = b""
    else:
        body = await reader.read()
        keep_alive = False
    return status, body, keep_alive


@dataclass
class _State:
    requests: Sequence[bytes]
    deadline: float
    request_timeout: float
    marker: bytes | None
    next_index: int = 0
    sent: int = 0
    errors: int = 0
    marker_hits: int = 0
    stopped_by_time: bool = False
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    non_2xx_samples: list[str] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    unmarked_samples: list[str] = field(default_factory=list)


def _sample(request: bytes, status: int, body: bytes) -> str:
    """``request body -> status response body``, both shortened, for the report."""
    sent = request.partition(b"\r\n\r\n")[2][:SAMPLE_BYTES].decode("utf-8", "replace")
    got = body[:SAMPLE_BYTES].decode("utf-8", "replace")
    return f"{sent} -> {status} {got}"


async def _close(writer: asyncio.StreamWriter | None) -> None:
    if writer is None:
        return
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 1.0)


async def _connect(host: str, port: int, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(host, port), timeout)


async def _worker(
    state: _State,
    host: str,
    port: int,
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None,
) -> None:
    reader, writer = conn if conn is not None else (None, None)
    perf_counter = time.perf_counter
    requests = state.requests
    total = len(requests)
    try:
        while state.next_index < total:
            if perf_counter() >= state.deadline:
                state.stopped_by_time = True
                break
            request = requests[state.next_index]
            state.next_index += 1
            state.sent += 1
            started = perf_counter()
            try:
                async with asyncio.timeout(state.request_timeout):
                    if writer is None or reader is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    writer.write(request)
                    await writer.drain()
                    status, body, keep_alive = await read_response(reader)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                state.errors += 1
                if len(state.error_samples) < MAX_SAMPLES:
                    timed_out = isinstance(exc, TimeoutError)
                    detail = f"no response within {state.request_timeout:g}s" if timed_out else exc
                    state.error_samples.append(f"{type(exc).__name__}: {detail}")
                await _close(writer)
                reader = writer = None
                continue
            except ProtocolError as exc:
                state.errors += 1
                if len(state.error_samples) < MAX_SAMPLES:
                    state.error_samples.append(f"ProtocolError: {exc}")
                await _close(writer)
                reader = writer = None
                continue
            state.latencies.append(perf_counter() - started)
            state.statuses[status] += 1
            success = 200 <= status < 300
            if not success and len(state.non_2xx_samples) < MAX_SAMPLES:
                state.non_2xx_samples.append(_sample(request, status, body))
            if state.marker is not None:
                if state.marker in body:
                    state.marker_hits += 1
                elif success and len(state.unmarked_samples) < MAX_SAMPLES:
                    state.unmarked_samples.append(_sample(request, status, body))
            if not keep_alive:
                await _close(writer)
                reader = writer = None
    finally:
        await _close(writer)


async def run_load(
    host: str,
    port: int | Sequence[int],
    requests: Sequence[bytes],
    *,
    connections: int = 32,
    seconds: float = 60.0,
    request_timeout: float = 30.0,
    marker: bytes | None = None,
) -> LoadResult:
    """Send ``requests`` over ``connections`` keep-alive connections; see the module doc.

    ``port`` may list several ports (servers): connection *i* goes to ``port[i % len(port)]``.
    ``seconds`` bounds the sending phase; the run as a whole takes at most about
    ``seconds + request_timeout``. ``marker``, if given, is searched for in every
    response body and the hits are counted.
    """
    _check_loopback(host)
    if connections < 1:
        raise ValueError("connections must be >= 1")
    cpu_started = time.process_time()

    # Open the connections before starting the clock, so the figures describe
    # steady keep-alive traffic rather than connection set-up.
    ports = [port] if isinstance(port, int) else list(port)
    port_of = [ports[i % len(ports)] for i in range(connections)]
    opened = await asyncio.gather(*(_connect(host, p, request_timeout) for p in port_of), return_exceptions=True)
    conns: list[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = []
    connect_errors: list[str] = []
    for item in opened:
        if isinstance(item, BaseException):
            conns.append(None)
            connect_errors.append(f"connect: {type(item).__name__}: {item}")
        else:
            conns.append(item)

    started = time.perf_counter()
    state = _State(
        requests=requests,
        deadline=started + seconds,
        request_timeout=request_timeout,
        marker=marker,
    )
    state.error_samples.extend(connect_errors[:MAX_SAMPLES])
    await asyncio.gather(*(_worker(state, host, p, conn) for p, conn in zip(port_of, conns, strict=True)))
    duration = time.perf_counter() - started

    latencies_ms = sorted(x * 1000.0 for x in state.latencies)
    completed = len(latencies_ms)
    non_2xx = sum(n for status, n in state.statuses.items() if not 200 <= status < 300)
    return LoadResult(
        connections=connections,
        planned=len(requests),
        sent=state.sent,
        completed=completed,
        errors=state.errors,
        duration_s=duration,
        rps=completed / duration if duration > 0 else 0.0,
        p50_ms=percentile(latencies_ms, 50),
        p90_ms=percentile(latencies_ms, 90),
        p99_ms=percentile(latencies_ms, 99),
        max_ms=latencies_ms[-1] if latencies_ms else 0.0,
        mean_ms=sum(latencies_ms) / completed if completed else 0.0,
        non_2xx=non_2xx,
        statuses=dict(state.statuses),
        marker=marker.decode("utf-8", "replace") if marker is not None else None,
        marker_hits=state.marker_hits,
        stopped_by="time" if state.stopped_by_time else "count",
        client_cpu_s=time.process_time() - cpu_started,
        non_2xx_samples=state.non_2xx_samples,
        error_samples=state.error_samples,
        unmarked_samples=state.unmarked_samples,
    )


def run_load_sync(
    host: str,
    port: int | Sequence[int],
    requests: Sequence[bytes],
    connections: int = 32,
    seconds: float = 60.0,
    request_timeout: float = 30.0,
    marker: bytes | None = None,
) -> LoadResult:
    """:func:`run_load` in a fresh event loop (the entry point of the child process)."""
    return asyncio.run(
        run_load(
            host,
            port,
            requests,
            connections=connections,
            seconds=seconds,
            request_timeout=request_timeout,
            marker=marker,
        )
    )


def _child_main(conn: Connection, args: tuple[Any, ...]) -> None:
    try:
        result: LoadResult | str = run_load_sync(*args)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the parent reports it
        return
    except Exception as exc:  # report it to the parent instead of dying silently
        result = f"{type(exc).__name__}: {exc}"
    conn.send(result)
    conn.close()


def run_load_in_subprocess(
    host: str,
    port: int | Sequence[int],
    requests: Sequence[bytes],
    *,
    connections: int = 32,
    seconds: float = 60.0,
    request_timeout: float = 30.0,
    marker: bytes | None = None,
) -> LoadResult:
    """:func:`run_load` in a freshly spawned process, so it has an event loop to itself.

    The child's clock starts only after its imports are done and the request list
    has arrived, so process start-up is not part of the measured duration.
    """
    _check_loopback(host)
    context = multiprocessing.get_context("spawn")
    parent_conn, child_conn = context.Pipe(duplex=False)
    args = (
        host,
        port if isinstance(port, int) else list(port),
        list(requests),
        connections,
        seconds,
        request_timeout,
        marker,
    )
    process = context.Process(target=_child_main, args=(child_conn, args), name="loadgen", daemon=True)
    process.start()
    child_conn.close()
    received = False
    try:
        # The child bounds itself; the extra margin only guards against a wedged child.
        if not parent_conn.poll(seconds + request_timeout + 60.0):
            raise RuntimeError("load generator did not report back in time")
        result = parent_conn.recv()
        received = True
    except EOFError as exc:
        raise RuntimeError(f"load generator died (exit code {process.exitcode})") from exc
    finally:
        parent_conn.close()
        if received:
            process.join(5.0)
        if process.is_alive():
            process.terminate()
            process.join(5.0)
    if isinstance(result, str):
        raise RuntimeError(f"load generator failed: {result}")
    assert isinstance(result, LoadResult)
    return result
