"""The media worker: in the background (never in a webhook's time) it claims the files waiting to be fetched, fetches
each from its provider with retries, checks its size and its kind by its bytes, stores it, and records what happened
(why, when it was refused or given up); it also deletes the stored files of erased residents."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.media.fetching import FetchError, http_client, too_large
from bot.media.kinds import HEAD_BYTES, Kind, sniff
from bot.media.storage import Storage, StorageError, new_key
from bot.store.db import Database
from bot.store.media import Attachment, MediaStatus

if TYPE_CHECKING:
    import httpx

    from bot.media.fetching import Fetcher

log = logging.getLogger("loopline.media")
RETRY_AFTER = (30, 120, 600, 3600, 6 * 3600)  # seconds after each failed attempt; after the last, given up
CLAIM = timedelta(minutes=5)  # a crashed process's claims go to another after this
BATCH = 8  # files fetched at once by one process
DRAIN_SECONDS = 20.0  # one run fetches batches for at most this long


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed file to fetch: only what the fetch needs (no resident, no message)."""

    id: int
    channel: str
    source: str
    declared_type: str | None
    declared_size: int | None


class MediaWorker:
    """Fetches, checks and stores the files residents sent; safe to run in every serve and worker process at once
    (a file is claimed by one at a time)."""

    def __init__(
        self, db: Database, storage: Storage, fetchers: Mapping[str, Fetcher], clock: Clock, max_bytes: int
    ) -> None:
        self.db = db
        self.storage = storage
        self.fetchers = fetchers
        self.clock = clock
        self.max_bytes = max_bytes
        self.rng = random.Random()  # noqa: S311 (jitter)

    async def run_once(self) -> dict[str, int]:
        """Delete erased residents' files, then fetch what is due; counts of what happened."""
        done = {"erased": await asyncio.to_thread(self.purge), "stored": 0, "refused": 0, "later": 0}
        jobs = await self.db.run(self._claim)
        if jobs:  # a client while files wait (none while nothing does, which is most of the time)
            started = time.monotonic()
            async with http_client() as client:
                while jobs:  # a wave of files is drained batch after batch, each batch's fetches overlapping
                    for outcome in await asyncio.gather(*(self._fetch(client, job) for job in jobs)):
                        done[outcome] += 1
                    if time.monotonic() - started > DRAIN_SECONDS:
                        break  # the rest at the next run, when the scheduler's other jobs have had their turn
                    jobs = await self.db.run(self._claim)
        if any(done.values()):
            log.info("media: %s", ", ".join(f"{name} {n}" for name, n in done.items() if n))
        return done

    def _claim(self) -> list[Job]:
        now = self.clock.now()
        with self.db.transaction() as session:
            due = (
                select(
                    Attachment.id,
                    Attachment.channel,
                    Attachment.source,
                    Attachment.declared_type,
                    Attachment.declared_size,
                )
                .where(
                    Attachment.status == MediaStatus.PENDING,
                    Attachment.next_attempt_at <= now,
                    or_(Attachment.claimed_until.is_(None), Attachment.claimed_until < now),
                )
                .order_by(Attachment.id)
                .limit(BATCH)
            )
            if not self.db.is_sqlite:
                due = due.with_for_update(skip_locked=True)
            jobs = [Job(*row) for row in session.execute(due)]
            if jobs:
                session.execute(
                    update(Attachment)
                    .where(Attachment.id.in_([job.id for job in jobs]))
                    .values(claimed_until=now + CLAIM, attempts=Attachment.attempts + 1)
                )
        return jobs

    async def _fetch(self, client: httpx.AsyncClient, job: Job) -> str:
        """One file: "stored", "refused" (kept as failed with why) or "later" (tried again after a while)."""
        try:
            data, kind = await self._get(client, job)
            key = new_key(self.clock.now(), kind.extension)
            await asyncio.to_thread(self.storage.put, key, data, kind.content_type)
        except FetchError as exc:
            return await self.db.run(self._not_fetched, job.id, exc.reason, exc.permanent)
        except StorageError as exc:
            return await self.db.run(self._not_fetched, job.id, str(exc), False)
        except Exception as exc:  # a provider library's surprise: kept as the reason, tried again later
            log.warning("media: file %d not fetched (%s)", job.id, type(exc).__name__)
            return await self.db.run(self._not_fetched, job.id, f"unexpected error ({type(exc).__name__})", False)
        if not await self.db.run(self._stored, job.id, key, kind, data):
            await asyncio.to_thread(self.storage.delete, key)  # erased while it was being fetched
        return "stored"

    async def _get(self, client: httpx.AsyncClient, job: Job) -> tuple[bytes, Kind]:
        if job.declared_size is not None and job.declared_size > self.max_bytes:
            raise too_large(self.max_bytes)
        fetcher = self.fetchers.get(job.channel)
        if fetcher is None:
            raise FetchError(f"the {job.channel} channel is not configured in this process", permanent=False)
        data = await fetcher.fetch(client, job.source, self.max_bytes)
        if not data:
            raise FetchError("the file is empty", permanent=True)
        kind = sniff(data[:HEAD_BYTES], job.declared_type)
        if kind is None:
            declared = (job.declared_type or "no type")[:60]
            raise FetchError(f"not an accepted kind of file (declared {declared})", permanent=True)
        return data, kind

    def _stored(self, attachment_id: int, key: str, kind: Kind, data: bytes) -> bool:
        now = self.clock.now()
        with self.db.transaction() as session:
            kept = session.execute(
                update(Attachment)
                .where(Attachment.id == attachment_id, Attachment.status == MediaStatus.PENDING)
                .values(
                    status=MediaStatus.STORED,
                    content_type=kind.content_type,
                    size=len(data),
                    storage_key=key,
                    sha256=hashlib.sha256(data).hexdigest(),
                    fetched_at=now,
                    error=None,
                    claimed_until=None,
                    next_attempt_at=None,
                )
            )
            return bool(getattr(kept, "rowcount", 0))

    def _not_fetched(self, attachment_id: int, reason: str, permanent: bool) -> str:
        now = self.clock.now()
        with self.db.transaction() as session:
            row = session.get(Attachment, attachment_id)
            if row is None or row.status != MediaStatus.PENDING:
                return "refused"
            row.claimed_until = None
            if permanent or row.attempts >= len(RETRY_AFTER):
                row.status, row.next_attempt_at = MediaStatus.FAILED, None
                row.error = reason if permanent else f"given up after {row.attempts} attempts: {reason}"[:200]
                return "refused"
            delay = RETRY_AFTER[row.attempts - 1] * self.rng.uniform(0.8, 1.2)
            row.error, row.next_attempt_at = reason, now + timedelta(seconds=delay)
            return "later"

    def purge(self) -> int:
        """Delete the stored files of erased residents (see purge)."""
        return purge(self.db, self.storage)


def purge(db: Database, storage: Storage) -> int:
    """Delete the stored files of erased residents, then their rows; how many went (a storage that cannot be reached
    now leaves the rest for the next time: every serve and worker process tries every few seconds)."""
    with db.transaction() as session:
        erased = session.execute(
            select(Attachment.id, Attachment.storage_key).where(Attachment.status == MediaStatus.ERASING).limit(200)
        ).all()
    gone: list[int] = []
    for attachment_id, key in erased:
        try:
            if key:
                storage.delete(key)
        except StorageError as exc:
            log.warning("media: erased files not deleted yet (%s)", exc)
            break
        gone.append(attachment_id)
    if gone:
        with db.transaction() as session:
            _forget(session, gone)
    return len(gone)


def _forget(session: Session, ids: list[int]) -> None:
    session.execute(delete(Attachment).where(Attachment.id.in_(ids), Attachment.status == MediaStatus.ERASING))
