"""Files in a conversation: what the router reads for a message that is only a file (the file is the answer where
words that become input are asked for: feedback, a poll's open question, something said outside a conversation), the
acknowledgement when another question waits (the file is kept and the question stays), and the files joining the
input item they belong to (those sent during a conversation join the item it ends in)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation.agenda import PROPOSE_FLOW
from bot.conversation.flows.context import FlowContext, say
from bot.conversation.router import FEEDBACK_FLOW, FOLLOWUP_FLOW
from bot.conversation.views import SessionView, Turn
from bot.engagement.decisions.progress import CHECK_BACK_FLOW
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.i18n.catalogs import _
from bot.messages import MediaRef
from bot.states import Consent
from bot.store.engagement import InputItem
from bot.store.media import link_to_item

# Conversations whose words become an input item (feedback, an event's follow-up, a proposal, "did this happen?",
# a poll's open question): there a file alone is the answer. Elsewhere (an area, a name, about oneself) it is not.
INPUT_FLOWS = frozenset({FEEDBACK_FLOW, FOLLOWUP_FLOW, PROPOSE_FLOW, CHECK_BACK_FLOW})
MEDIA_STATE = "media"  # the conversation's files that are not part of an input item yet
KEPT = _("Thank you, we received your file. To go on, please answer the last question.")


def marker(media: Sequence[MediaRef]) -> str:
    """The words an input item that is only files carries, for staff (the files are shown beside them)."""
    kinds = {(ref.content_type or "").split("/")[0] for ref in media}
    if kinds == {"image"}:
        return "[photo]" if len(media) == 1 else f"[{len(media)} photos]"
    if kinds == {"audio"}:
        return "[voice note]" if len(media) == 1 else f"[{len(media)} recordings]"
    return "[file]" if len(media) == 1 else f"[{len(media)} files]"


def routed_text(text: str, media: Sequence[MediaRef], current: SessionView | None, consent: str) -> str | None:
    """What the router reads: the message's words, or, for files alone, the marker where words are asked for; None
    when another question waits (the files are acknowledged and kept, the conversation stays where it is)."""
    if not media or text.strip():
        return text
    if current is None:  # said outside a conversation: input from someone who joined; else as an empty message
        return marker(media) if consent == Consent.GRANTED else text
    node = current.flow.nodes.get(current.node)
    takes_input = current.flow.slug in INPUT_FLOWS or current.flow.slug.startswith(POLL_FLOW_PREFIX)
    return marker(media) if takes_input and node is not None and node.kind == "ask-text" else None


def kept(current: SessionView, ctx: FlowContext) -> Turn:
    """The turn of files sent while a question that words answer waits: thanks, and the question stays."""
    return Turn("reply", (say(ctx, KEPT),), session_node=current.node, session_state=dict(current.state))


def attach(
    session: Session, turn: Turn, new: Sequence[int], current: SessionView | None, resident_id: int, now: datetime
) -> Turn:
    """The conversation's files (sent now or earlier in it) join the input item this turn made, if it made one;
    else the conversation carries them until it does."""
    earlier = current.state.get(MEDIA_STATE) if current is not None and not turn.start_flow else None
    waiting = [*(int(i) for i in earlier or () if isinstance(i, int)), *new]
    if not waiting:
        return turn
    made = session.scalar(
        select(InputItem.id)
        .where(InputItem.resident_id == resident_id, InputItem.created_at == now)
        .order_by(InputItem.id.desc())
        .limit(1)
    )
    if made is not None:
        link_to_item(session, waiting, made)
        waiting = []
    if turn.session_node is None or (turn.end_session and not turn.start_flow):
        return turn
    state = {k: v for k, v in turn.session_state.items() if k != MEDIA_STATE}
    return replace(turn, session_state={**state, MEDIA_STATE: waiting} if waiting else state)
