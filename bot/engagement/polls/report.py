"""What staff see of a poll: its latest questions, respondents, results with the size of every group."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import Flow
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.engagement.polls.tally import QuestionResult, results_and_sizes
from bot.store.engagement import Answer, Poll
from bot.store.flow_registry import FlowRegistry


@dataclass
class PollReport:
    """A poll's results as the dashboard shows them; open-text answers are counted, not shown."""

    respondents: int
    questions: list[QuestionResult] = field(default_factory=list)
    group_sizes: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)


def respondents_by_poll(session: Session) -> dict[int, int]:
    """How many residents answered at least one question of each poll."""
    rows = session.execute(
        select(Answer.poll_id, func.count(func.distinct(Answer.resident_id))).group_by(Answer.poll_id)
    )
    return {int(poll_id): int(count) for poll_id, count in rows}


def latest_flow(session: Session, flows: FlowRegistry, slug: str) -> Flow | None:
    """The newest version of a poll's questions (another process may have stored it)."""
    flows.refresh(session)
    version_id = flows.latest.get(POLL_FLOW_PREFIX + slug)
    return flows.get(session, version_id) if version_id is not None else None


def report(session: Session, flows: FlowRegistry, poll: Poll) -> PollReport:
    """Every question's results (overall and by language, area and channel) and how many answered."""
    respondents = int(
        session.scalar(select(func.count(func.distinct(Answer.resident_id))).where(Answer.poll_id == poll.id)) or 0
    )
    flow = latest_flow(session, flows, poll.slug)
    if flow is None:
        return PollReport(respondents)
    questions, sizes = results_and_sizes(session, poll, flow)
    return PollReport(respondents, questions, sizes)
