"""Where a resident's conversation stands: read as the router sees it, saved after each turn (or started anew)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, update
from sqlalchemy.orm import Session

from bot.conversation.views import SessionView, Turn
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.pipeline.sender import SessionRow
from bot.store.flow_registry import FlowRegistry
from bot.store.models import ConversationSession
from bot.store.prepared import Prepared

SESSIONS = cast(Table, ConversationSession.__table__)
_THIS = SESSIONS.c.id == bindparam("session_id")
_NEW = Prepared(insert(SESSIONS), ("resident_id", "flow_version_id", "node", "state", "started_at", "updated_at"))
_END = Prepared(delete(SESSIONS).where(_THIS))


def _setting(*columns: str) -> Prepared:
    return Prepared(update(SESSIONS).where(_THIS).values({name: bindparam(name) for name in columns}))


_MOVE = _setting("node", "state", "updated_at")  # the next question of the same conversation
_RESUME = _setting("flow_version_id", "node", "state", "updated_at")  # back to a paused poll
_RESTART = _setting("flow_version_id", "node", "state", "started_at", "updated_at")  # another conversation


def session_view(session: Session, flows: FlowRegistry, row: SessionRow | None) -> SessionView | None:
    """The conversation as the router sees it: the flow, the node, its state, and a poll paused underneath."""
    if row is None:
        return None
    paused = row.state.get("paused")
    paused_view = (
        SessionView(flows.get(session, paused["flow_version_id"]), paused["node"], paused["state"])
        if isinstance(paused, dict)
        else None
    )
    return SessionView(flows.get(session, row.flow_version_id), row.node, row.state, paused_view)


def start_session(
    session: Session, resident_id: int, version_id: int, node: str, state: dict[str, Any], now: datetime
) -> None:
    """A conversation the program starts (the resident's next message answers its first question)."""
    values = {"flow_version_id": version_id, "node": node, "state": state, "started_at": now, "updated_at": now}
    _NEW.run(session, {"resident_id": resident_id, **values})


def save_session(
    session: Session, flows: FlowRegistry, resident_id: int, row: SessionRow | None, turn: Turn, now: datetime
) -> None:
    """Where the conversation stands after this turn (Core statements: one row, no unit of work)."""
    paused = row.state.get("paused") if row is not None else None
    if turn.end_session:
        if row is not None and turn.resume and isinstance(paused, dict):
            resumed = {"flow_version_id": paused["flow_version_id"], "node": paused["node"], "state": paused["state"]}
            _RESUME.run(session, {"session_id": row.id, **resumed, "updated_at": now})
        elif row is not None:
            _END.run(session, {"session_id": row.id})
        if turn.start_flow is None or turn.resume:
            return
        row, paused = None, None  # one conversation ended and the next begins (a poll's end, then the payout)
    if turn.start_flow is not None and turn.session_node is not None:
        version_id = flows.latest[turn.start_flow]
        if row is not None and not isinstance(paused, dict):
            current = flows.get(session, row.flow_version_id).slug
            if current.startswith(POLL_FLOW_PREFIX) and current != turn.start_flow:
                # Another conversation interrupts a poll: keep the poll to come back to it afterwards.
                paused = {"flow_version_id": row.flow_version_id, "node": row.node, "state": row.state}
        state = {**turn.session_state, "paused": paused} if isinstance(paused, dict) else turn.session_state
        if row is None:
            start_session(session, resident_id, version_id, turn.session_node, state, now)
        else:
            values = {"flow_version_id": version_id, "node": turn.session_node, "state": state}
            _RESTART.run(session, {"session_id": row.id, **values, "started_at": now, "updated_at": now})
    elif row is not None and turn.session_node is not None:
        values = {"node": turn.session_node, "state": turn.session_state, "updated_at": now}
        _MOVE.run(session, {"session_id": row.id, **values})
