"""Stored flow versions: built-in flows are saved as a new version when they change; parsed flows are cached."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.conversation.flows.loader import checksum, shipped_flows
from bot.conversation.flows.schema import Flow, parse_flow
from bot.store.models import FlowVersion


class FlowRegistry:
    """Flow versions by id (immutable, so safe to cache in every process) and the latest version of each slug."""

    def __init__(self) -> None:
        self._by_id: dict[int, Flow] = {}
        self.latest: dict[str, int] = {}
        self._refreshed = 0.0

    def store(self, session: Session, document: dict[str, Any], clock: Clock) -> FlowVersion:
        """Save a document as the next version of its flow unless the latest version is identical."""
        version_id = self._store(session, parse_flow(document), document, checksum(document), clock)
        return session.get_one(FlowVersion, version_id)

    def _store(self, session: Session, flow: Flow, document: dict[str, Any], digest: str, clock: Clock) -> int:
        latest = session.execute(
            select(FlowVersion.id, FlowVersion.version, FlowVersion.checksum)
            .where(FlowVersion.slug == flow.slug)
            .order_by(FlowVersion.version.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.checksum == digest:
            version_id = int(latest.id)
        else:
            row = FlowVersion(
                slug=flow.slug,
                version=(latest.version if latest else 0) + 1,
                checksum=digest,
                definition=document,
                created_at=clock.now(),
            )
            session.add(row)
            session.flush()
            version_id = row.id
        self._by_id[version_id] = flow
        self.latest[flow.slug] = version_id
        return version_id

    def sync_builtin(self, session: Session, clock: Clock) -> None:
        """Make sure every shipped flow is stored at its current version."""
        for shipped in shipped_flows():
            self._store(session, shipped.flow, shipped.document, shipped.checksum, clock)

    def refresh(self, session: Session, *, at_most_every: float = 0.0) -> None:
        """Learn the latest version of every flow from the store (another process may have loaded one);
        with at_most_every, not more often than that many seconds (this process's own loads are seen at once)."""
        now = time.monotonic()
        if self.latest and now - self._refreshed < at_most_every:
            return
        rows = session.execute(select(FlowVersion.slug, func.max(FlowVersion.id)).group_by(FlowVersion.slug)).all()
        self.latest.update({slug: version_id for slug, version_id in rows})
        self._refreshed = now

    def get(self, session: Session, version_id: int) -> Flow:
        """The parsed flow of a stored version."""
        flow = self._by_id.get(version_id)
        if flow is None:
            row = session.get(FlowVersion, version_id)
            if row is None:
                raise KeyError(version_id)
            flow = self._by_id[version_id] = parse_flow(row.definition)
        return flow

    def latest_flows(self, session: Session) -> dict[str, Flow]:
        """The latest version of every known flow, by slug."""
        return {slug: self.get(session, version_id) for slug, version_id in self.latest.items()}
