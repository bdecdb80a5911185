"""A keep-alive GET client for the dashboard benchmark, in a process of its own: one URL at a time, C connections.

Each connection sends the request, reads the whole answer (``loadgen.read_response``) and sends it again, until
``count`` requests were sent or ``seconds`` passed; requests in flight then finish (each bounded by ``timeout``).
Loopback only. Latencies are measured from writing the request to reading the last byte of the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from tests.perf.loadgen import ProtocolError, percentile, read_response

HOST = "127.0.0.1"  # loopback only, by design


@dataclass
class Phase:
    """What one phase measured (latencies in ms; percentiles nearest-rank)."""

    connections: int
    completed: int = 0
    errors: int = 0
    duration_s: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_kib: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)
    bad: int = 0  # non-2xx, or a 2xx without the expected content
    samples: list[str] = field(default_factory=list)
    stopped_by: str = "count"
    server_cpu_ms_per_req: float | None = None


async def run_phase(
    port: int, request: bytes, connections: int, count: int, seconds: float, marker: bytes, timeout: float
) -> Phase:
    """Send ``request`` ``count`` times (or until ``seconds`` passed) over ``connections`` keep-alive connections,
    each waiting for its answer before sending again."""
    result = Phase(connections)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    sizes: list[int] = []
    sent = 0
    conns = [await asyncio.open_connection(HOST, port) for _ in range(connections)]
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(reader: asyncio.StreamReader | None, writer: asyncio.StreamWriter | None) -> None:
        nonlocal sent
        while sent < count:
            if time.perf_counter() >= deadline:
                result.stopped_by = "time"
                break
            sent += 1
            begun = time.perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    if reader is None or writer is None:
                        reader, writer = await asyncio.open_connection(HOST, port)
                    writer.write(request)
                    await writer.drain()
                    status, body, keep_alive = await read_response(reader)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ProtocolError) as exc:
                result.errors += 1
                if len(result.samples) < 3:
                    result.samples.append(f"{type(exc).__name__}: {exc}")
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            latencies.append((time.perf_counter() - begun) * 1000.0)
            statuses[status] += 1
            sizes.append(len(body))
            if not (200 <= status < 300 and marker in body):
                result.bad += 1
                if len(result.samples) < 3:
                    result.samples.append(f"{status}: {body[:200].decode('utf-8', 'replace')}")
            if not keep_alive and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker(reader, writer) for reader, writer in conns))
    result.duration_s = time.perf_counter() - started
    ordered = sorted(latencies)
    result.completed = len(ordered)
    result.rps = result.completed / result.duration_s if result.duration_s > 0 else 0.0
    result.p50_ms, result.p95_ms = percentile(ordered, 50), percentile(ordered, 95)
    result.p99_ms, result.max_ms = percentile(ordered, 99), ordered[-1] if ordered else 0.0
    result.mean_kib = sum(sizes) / len(sizes) / 1024 if sizes else 0.0
    result.statuses = {str(k): v for k, v in sorted(statuses.items())}
    return result


def _client_main(conn: Connection) -> None:
    """The client process: run each phase it is sent, answer with the result, stop on None."""
    with contextlib.suppress(KeyboardInterrupt, EOFError):
        while (job := conn.recv()) is not None:
            try:
                conn.send(asdict(asyncio.run(run_phase(**job))))
            except Exception as exc:  # reported by the orchestrator
                conn.send(f"{type(exc).__name__}: {exc}")


class Client:
    """A spawned process that sends the load, so that it shares no event loop or GIL with anything else."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_client_main, args=(child,), name="bench-client", daemon=True)
        self.process.start()
        child.close()

    def run(self, limit: float, **job: Any) -> Phase:
        self.conn.send(job)
        if not self.conn.poll(limit):
            raise RuntimeError("the client did not report back in time")
        found = self.conn.recv()
        if isinstance(found, str):
            raise RuntimeError(f"the client failed: {found}")
        return Phase(**found)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(5.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5.0)
