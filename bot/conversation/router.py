"""The router: a pure function from (message, resident, session, flows) to what happens next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.conversation.flows import engine
from bot.conversation.flows.schema import Flow
from bot.conversation.keywords import Keyword, match_keyword
from bot.i18n.catalogs import _
from bot.i18n.negotiation import text_direction
from bot.messages import Reply

ONBOARDING = "onboarding"


@dataclass(frozen=True, slots=True)
class ResidentView:
    """What the router may know of the resident."""

    consent: str
    locale: str
    area: str | None = None


@dataclass(frozen=True, slots=True)
class SessionView:
    """The resident's active conversation, if any."""

    flow: Flow
    node: str
    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Turn:
    """Everything one inbound message causes; the pipeline carries it out in one transaction."""

    purpose: str
    replies: tuple[Reply, ...] = ()
    effects: tuple[engine.SetField, ...] = ()
    consent: str | None = None
    end_session: bool = False
    start_flow: str | None = None
    session_node: str | None = None
    session_state: dict[str, Any] = field(default_factory=dict)
    keyword: Keyword | None = None


def _say(ctx: engine.FlowContext, message: str) -> Reply:
    return Reply(engine.render_text(message, ctx), (), text_direction(ctx.locale))


HELP = _(
    "{program}: community health news, polls and events ({frequency}). Questions: {contact}. "
    "Msg & data rates may apply. Reply STOP to stop, LANGUAGE to change language, MENU for options."
)
STOPPED = _("You are unsubscribed from {program} and will get no more messages. Reply START to join again.")
RESTARTED = _(
    "You are subscribed to {program} again ({frequency}). Msg & data rates may apply. "
    "Reply HELP for help, STOP to stop."
)
MENU = _("What you can do:\nLANGUAGE - change your language\nHELP - help and contact\nSTOP - stop all messages")
FALLBACK = _("Thank you, we received your message. Reply MENU to see what you can do.")


def _from_step(step: engine.Step, purpose: str, flow_slug: str | None) -> Turn:
    consent = next((e.value for e in reversed(step.effects) if e.field == "consent"), None)
    return Turn(
        purpose=purpose,
        replies=step.replies,
        effects=step.effects,
        consent=consent,
        end_session=step.ended,
        start_flow=flow_slug if not step.ended else None,
        session_node=step.node,
        session_state=step.state,
    )


def route(
    text: str,
    resident: ResidentView,
    session: SessionView | None,
    flows: Mapping[str, Flow],
    ctx: engine.FlowContext,
    *,
    is_button: bool = False,
    provider_replied: bool = False,
) -> Turn:
    """Decide what one message from a resident does; pure, so that it can be tested as a transcript."""
    stopped = resident.consent == "revoked"
    keyword = None if is_button else match_keyword(text, opted_out=stopped)
    silent = provider_replied  # the provider (Twilio Advanced Opt-Out) already answered this keyword
    if keyword is Keyword.OPT_OUT:
        return Turn(
            "opt_out",
            () if silent else (_say(ctx, STOPPED),),
            consent="revoked",
            end_session=True,
            keyword=keyword,
        )
    if keyword is Keyword.HELP:
        replies: list[Reply] = [] if silent else [_say(ctx, HELP)]
        if session and not stopped and replies:
            node = session.flow.nodes[session.node]
            replies.append(Reply(engine.expected_answer_hint(node, ctx), (), text_direction(ctx.locale)))
        return Turn("help", tuple(replies), keyword=keyword)
    if keyword is Keyword.OPT_IN:
        if resident.consent == "pending" or (resident.consent == "granted" and session is not None):
            # Someone new (Telegram's /start too) goes through language and consent; mid-conversation it's an answer.
            keyword = None
        else:
            restarted = () if silent else (_say(ctx, RESTARTED),)
            return Turn("opt_in", restarted, consent="granted", end_session=session is not None, keyword=keyword)
    if stopped:
        return Turn("ignored")  # after STOP nothing is sent but answers to START and HELP
    if keyword is Keyword.LANGUAGE:
        step = engine.start(flows[ONBOARDING], ctx)
        return _from_step(step, "reply", ONBOARDING)
    if keyword is Keyword.MENU:
        return Turn("reply", (_say(ctx, MENU),), keyword=keyword)
    if session is not None:
        step = engine.advance(session.flow, session.node, session.state, text, ctx, is_button=is_button)
        return _from_step(step, "reply", None)
    if resident.consent in ("pending", "declined"):
        return _from_step(engine.start(flows[ONBOARDING], ctx), "reply", ONBOARDING)
    return Turn("reply", (_say(ctx, FALLBACK),))
