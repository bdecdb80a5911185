"""Group commit for inbound messages: those that arrive while the store is busy are handled together, in one
transaction and one commit, each answered with its own outcome; at most a few groups in flight at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from bot.pipeline.orchestrator import Arrival, Handled, Pipeline
from bot.store.db import Database

# Enough to absorb a wave (Twilio retries a webhook after 15 s; a group of this size takes well under a second).
MOST_PER_GROUP = 64
# On PostgreSQL a few groups may overlap their round trips, each in its own thread; that pays only when the trips
# are long next to the ~0.1 ms of Python each statement costs (measured on loopback: three lanes took 2.0 ms of CPU
# a message against 1.4 with one, from the threads contending for the GIL, and answered slower).
MOST_LANES = 3
OVERLAP_FROM_SECONDS = 0.00015


def lanes_for(round_trip_s: float, *, embedded: bool) -> int:
    """How many groups may be in flight at once: one for the embedded SQLite (one writer) and for a database whose
    round trip is short (on the same machine); several when each statement waits on a network."""
    return 1 if embedded or round_trip_s < OVERLAP_FROM_SECONDS else MOST_LANES


class GroupCommit:
    """Hands inbound messages to the pipeline in groups: a message waits only for the group in flight ahead of
    it, never for a timer (one alone is handled at once)."""

    def __init__(
        self, db: Database, pipeline: Pipeline, *, most: int = MOST_PER_GROUP, lanes: int | None = None
    ) -> None:
        self.db = db
        self.pipeline = pipeline
        self.most = most
        # Unless given, one until the database's round trip is measured (at the first group, off the event loop).
        self.lanes = lanes or 1
        self._measured = lanes is not None or db.is_sqlite
        self._waiting: deque[tuple[Arrival, asyncio.Future[Handled]]] = deque()
        self._busy = 0
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    async def handle(self, arrival: Arrival) -> Handled:
        """The message's outcome once its group is committed (its own exception, e.g. TransientFailure)."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Handled] = loop.create_future()
        self._waiting.append((arrival, outcome))
        self._schedule(loop)
        return await outcome

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        # On the next turn of the loop: the requests that arrived with this one have joined by then.
        if not self._scheduled and self._busy < self.lanes:
            self._scheduled = True
            loop.call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        while self._waiting and self._busy < self.lanes:
            # What waits is shared among the free lanes (on PostgreSQL their round trips overlap).
            share = -(-len(self._waiting) // (self.lanes - self._busy))
            group = [self._waiting.popleft() for _ in range(min(self.most, share))]
            self._busy += 1
            task = asyncio.ensure_future(self._run(group))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, group: list[tuple[Arrival, asyncio.Future[Handled]]]) -> None:
        if not self._measured:
            self._measured = True
            with contextlib.suppress(Exception):  # unmeasured (the database is down): one lane, as at start
                self.lanes = lanes_for(await self.db.run(self.db.round_trip_seconds), embedded=self.db.is_sqlite)
        try:
            outcomes = await self.db.run(self.pipeline.handle_batch, [arrival for arrival, _ in group])
        except Exception as exc:  # the pipeline answers per message: this is a bug
            outcomes = [exc] * len(group)
        except asyncio.CancelledError:  # the process is stopping: the provider sends these again
            for _, future in group:
                future.cancel()
            raise
        finally:
            self._busy -= 1
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if future.done():  # its request went away (the provider sends it again; the duplicate check holds)
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        if self._waiting:
            self._schedule(asyncio.get_running_loop())
