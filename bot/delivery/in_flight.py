"""Sends of one claimed batch in a provider's hands at once: bounded, in order per address, held back together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable, Iterator
from datetime import datetime
from typing import Any

from bot.messages import Address

log = logging.getLogger("loopline.delivery")

IN_FLIGHT = 16  # sends one worker has in providers' hands at once, by default


class Batch:
    """One run_once's rows: those still in hand, the send tasks running, and the holds being written down.

    Rows are paced and checked one after another by the worker; each row's send and its record then run as a task
    of their own, at most `limit` at once. A later row to an address waits until the earlier one was answered."""

    def __init__(self, limit: int) -> None:
        self.unsettled: dict[int, bool] = {}  # rows not yet settled (an ordered set): handed back at the end
        self.taken = 0  # rows claimed in all
        self.renewed: datetime | None = None  # when their claim was last extended
        self.slots = asyncio.Semaphore(limit)
        self.failed = False  # a send's bookkeeping failed: no new row is taken
        self.ahead: dict[int, tuple[datetime, int]] = {}  # rows whose place was reserved early: (when, holds then)
        self.holds = 0  # holds asked for by a provider (429) in this batch: a reservation older than one is redone
        self._paced: dict[str, tuple[datetime, int]] = {}  # per shared pace: the latest place reserved, how many
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[Address, asyncio.Task[None]] = {}  # the latest send task per address
        self._writing = 0  # holds being written down now
        self._written = asyncio.Event()
        self._written.set()

    def take(self, rows: Iterable[int]) -> None:
        """Rows just claimed, now in hand."""
        before = len(self.unsettled)
        self.unsettled.update(dict.fromkeys(rows, True))
        self.taken += len(self.unsettled) - before

    async def ready_for(self, address: Address) -> None:
        """Wait until the batch's earlier send to this address has been answered and recorded, then for a slot."""
        earlier = self._last.get(address)
        if earlier is not None and not earlier.done():
            await asyncio.wait([earlier])
        await self.slots.acquire()

    def idle(self, address: Address) -> bool:
        """No send to this address is running."""
        task = self._last.get(address)
        return task is None or task.done()

    def paced(self, key: str, due: datetime) -> None:
        """A place was reserved in the pace named key, for `due`."""
        latest, count = self._paced.get(key, (due, 0))
        self._paced[key] = max(due, latest), count + 1

    def counted(self, key: str) -> int:
        """How many places this batch has reserved in the pace named key."""
        return self._paced.get(key, (None, 0))[1]

    def paced_beyond(self, key: str, now: datetime) -> bool:
        """Whether a place reserved in that pace lies in the future (the pace owes time until then)."""
        latest = self._paced.get(key)
        return latest is not None and latest[0] > now

    def start(self, row: int, address: Address, send: Coroutine[Any, Any, None]) -> None:
        """Run one row's send and record as a task that holds a slot (taken by ready_for) until it ends."""
        task = asyncio.create_task(self._run(row, send), name=f"outbox {row}")
        self._tasks.add(task)
        self._last[address] = task
        task.add_done_callback(lambda done: self._forget(address, done))

    def _forget(self, address: Address, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last.get(address) is task:
            del self._last[address]

    async def _run(self, row: int, send: Coroutine[Any, Any, None]) -> None:
        try:
            await send
        except Exception:
            # Bookkeeping failed (e.g. the database went away): no new row is taken, the rest go back.
            log.exception("outbox %s: delivery bookkeeping failed", row)
            self.failed = True
        finally:
            self.slots.release()

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Around writing down a provider's hold: a reservation made before it, or while it is written, is redone."""
        self.holds += 1
        self._writing += 1
        self._written.clear()
        try:
            yield
        finally:
            self._writing -= 1
            if not self._writing:
                self._written.set()

    @property
    def writing(self) -> bool:
        """A hold is being written down now."""
        return bool(self._writing)

    async def holds_written(self) -> int:
        """Wait until no hold is being written down; the number of holds so far."""
        await self._written.wait()
        return self.holds

    def cancel(self) -> None:
        """Cancel every send still running (the batch itself was cancelled)."""
        for task in self._tasks:
            task.cancel()

    async def settle(self) -> None:
        """Wait for every send task to end; if this wait is cancelled, the sends are cancelled with it."""
        running = [task for task in self._tasks if not task.done()]
        if not running:
            return
        try:
            await asyncio.wait(running)
        except asyncio.CancelledError:
            self.cancel()
            raise
