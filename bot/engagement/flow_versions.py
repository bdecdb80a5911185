"""Stored flow versions: built-in flows are saved as a new version when they change; parsed flows are cached."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.conversation.flows.loader import builtin_documents, checksum
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
        flow = parse_flow(document)
        digest = checksum(document)
        current = session.scalars(
            select(FlowVersion).where(FlowVersion.slug == flow.slug).order_by(FlowVersion.version.desc()).limit(1)
        ).first()
        if current is not None and current.checksum == digest:
            row = current
        else:
            number = (
                session.scalar(select(func.max(FlowVersion.version)).where(FlowVersion.slug == flow.slug)) or 0
            ) + 1
            row = FlowVersion(
                slug=flow.slug, version=number, checksum=digest, definition=document, created_at=clock.now()
            )
            session.add(row)
            session.flush()
        self._by_id[row.id] = flow
        self.latest[flow.slug] = row.id
        return row

    def sync_builtin(self, session: Session, clock: Clock) -> None:
        """Make sure every shipped flow is stored at its current version."""
        for document in builtin_documents().values():
            self.store(session, document, clock)

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
