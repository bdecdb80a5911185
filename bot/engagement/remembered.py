"""Reports computed from many rows (a poll's weighted results, who answered against the population) kept per process
until what they were computed from changes: a few aggregate reads tell (the answers, what residents said about
themselves, the baseline, the flow's versions, the audit log that every staff change writes; for the whole program,
the residents and their addresses). A city's poll is then read once, not at every page view."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.store.about_me import AboutMeAnswer
from bot.store.engagement import Answer, AuditEvent
from bot.store.models import Address, FlowVersion, Resident
from bot.store.places import BaselineCount

T = TypeVar("T")
KEPT_PER_DATABASE = 32
_LOCK = threading.Lock()
_KEPT: weakref.WeakKeyDictionary[Engine, OrderedDict[Hashable, tuple[tuple[Any, ...], Any]]] = (
    weakref.WeakKeyDictionary()
)


def inputs(session: Session, poll_id: int | None, flow_slug: str | None = None) -> tuple[Any, ...]:
    """What a report of a poll (or of the whole program: None) is computed from, in a few aggregates."""
    answers = select(func.count(), func.max(Answer.id), func.max(Answer.updated_at))
    if poll_id is not None:
        answers = answers.where(Answer.poll_id == poll_id)
    reads = [
        answers,
        select(func.count(), func.max(AboutMeAnswer.id), func.max(AboutMeAnswer.updated_at)),
        select(func.count(), func.max(BaselineCount.id)),
        select(func.max(AuditEvent.id)),
    ]
    if flow_slug is not None:
        reads.append(select(func.max(FlowVersion.id)).where(FlowVersion.slug == flow_slug))
    if poll_id is None:
        reads.append(select(func.count(), func.max(Resident.updated_at)))
        reads.append(select(func.count(), func.max(Address.id)))
    db = session.connection()
    return tuple(tuple(db.execute(read).one()) for read in reads)


def remembered(session: Session, key: Hashable, now_from: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """The report kept under key if it was computed from the same inputs (now_from), else computed now and kept.
    What is returned is shared: callers read it and never change it."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _LOCK:
        kept = _KEPT.setdefault(engine, OrderedDict())
        found = kept.get(key)
    if found is not None and found[0] == now_from:
        return found[1]  # type: ignore[no-any-return]
    value = compute()
    with _LOCK:
        kept[key] = (now_from, value)
        kept.move_to_end(key)
        while len(kept) > KEPT_PER_DATABASE:
            kept.popitem(last=False)
    return value
