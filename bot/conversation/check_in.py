"""Coming to an event and being paid for one's time: HERE and the code shown at the event (each language) checks a
resident in; whoever qualifies for an offer (checked in, completed a poll) is asked how they want to be paid."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.conversation.flows import engine
from bot.conversation.flows.context import FlowContext, say
from bot.conversation.flows.schema import Flow
from bot.conversation.keywords import is_check_in_word
from bot.conversation.views import CheckInView, SessionView, Turn
from bot.i18n.catalogs import _
from bot.i18n.negotiation import pick_text
from bot.states import Consent

PAYOUT_FLOW = "payout"
POLL_PREFIX = "poll-"

CHECKED_IN = _("Welcome to {event}! You are checked in. Thank you for coming.")
ALREADY = _("You are already checked in at {event}. Thank you for coming!")
UNKNOWN_CODE = _("We could not find an event with the code {code}. Please check the code shown at the event.")
NOT_OPEN = _("Check-in for {event} is not open at this time.")
ASK_CODE = _("To check in, send HERE and the code shown at the event, for example HERE 4821.")


def request(text: str, session: SessionView | None, found: CheckInView | None, ctx: FlowContext) -> Turn | None:
    """HERE and a code, at any point of a conversation (which goes on after); HERE alone, outside one; else None."""
    if found is not None:
        return answer(found, ctx)
    return ask_code(ctx) if session is None and is_check_in_word(text) else None


def answer(found: CheckInView, ctx: FlowContext) -> Turn:
    """What HERE <code> does: checked in (the effect), already, no such event, or not open now."""
    if found.event_id is None:
        return Turn("reply", (say(ctx, UNKNOWN_CODE, code=found.code),))
    event = pick_text(found.title, ctx.locale)
    if found.already:
        return Turn("reply", (say(ctx, ALREADY, event=event),))
    if not found.is_open:
        return Turn("reply", (say(ctx, NOT_OPEN, event=event),))
    return Turn("reply", (say(ctx, CHECKED_IN, event=event),), effects=(engine.CheckIn(found.event_id),))


def ask_code(ctx: FlowContext) -> Turn:
    """HERE without a code: how to check in."""
    return Turn("reply", (say(ctx, ASK_CODE),))


def can_ask_payout(turn: Turn, session: SessionView | None) -> bool:
    """Whether the payout question can follow this turn now: the resident is not in the middle of another
    conversation (a poll is set aside and resumed afterwards), and did not just stop."""
    if turn.consent == Consent.REVOKED or turn.start_flow is not None or turn.resume:
        return False
    return turn.end_session or session is None or session.flow.slug.startswith(POLL_PREFIX)


def ask_payout(turn: Turn, flows: Mapping[str, Flow], ctx: FlowContext, amount: str, what: str) -> Turn:
    """The turn followed by the payout conversation's first question (how they want {amount} for {what})."""
    if PAYOUT_FLOW not in flows:
        return turn
    words = {"amount": amount, "what": what}
    step = engine.start(flows[PAYOUT_FLOW], replace(ctx, params={**ctx.params, **words}), state={"vars": words})
    return replace(
        turn,
        replies=(*turn.replies, *step.replies),
        effects=(*turn.effects, *step.effects),
        end_session=turn.end_session,  # the conversation that ended is replaced by this one (not set aside)
        start_flow=None if step.ended else PAYOUT_FLOW,
        session_node=step.node,
        session_state=step.state,
    )
