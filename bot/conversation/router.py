"""The router: a pure function from (message, resident, session, flows) to what happens next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.conversation import agenda, check_in, my_data
from bot.conversation.flows import engine
from bot.conversation.flows.context import FlowContext, say, with_state
from bot.conversation.flows.schema import Flow
from bot.conversation.keywords import Keyword
from bot.conversation.opt_out import StopRequest, read_keyword
from bot.conversation.scales import is_acknowledgement
from bot.conversation.text import fold
from bot.conversation.views import PollView, ResidentView, SessionView, Turn, World
from bot.i18n.catalogs import _
from bot.i18n.negotiation import pick_text, text_direction
from bot.messages import Reply
from bot.states import Consent

ONBOARDING = "onboarding"
CONSENT_NODE = "ask_consent"  # onboarding's consent question
FEEDBACK_FLOW = "feedback"
EVENTS_FLOW = "events"
POLLS_FLOW = "polls"
FOLLOWUP_FLOW = "event-followup"


HELP = _(
    "{program}: {about} ({frequency}). Questions: {contact}. "
    "Msg & data rates may apply. Reply STOP to stop, LANGUAGE to change language, MENU for options."
)
STOPPED = _("You are unsubscribed from {program} and will get no more messages. Reply START to join again.")
ALREADY = _("You are already subscribed to {program} ({frequency}). Reply HELP for help, STOP to stop.")
RESTARTED = _(
    "You are subscribed to {program} again ({frequency}). Msg & data rates may apply. "
    "Reply HELP for help, STOP to stop."
)
MENU = _(
    "What you can do:\nPOLL - answer the current poll\nEVENTS - upcoming events\nFEEDBACK - tell us something\n"
    "STATUS and a number - "
    "where your feedback stands\nLANGUAGE - change your language\nHELP - help and contact\nSTOP - stop all messages"
)
NO_POLL = _("There is no open poll right now. We will let you know when there is one.")
POLL_CLOSED = _("This poll is closed. Thank you for your interest!")
POLL_CLOSED_RESULTS = _("This poll is closed. Thank you for your interest! See the results: {url}")
BACK_TO_POLL = _("Back to the poll where you left off:")
STATUS_TEXTS = {
    "received": _("#{ref}: we received it and will review it soon."),
    "under_review": _("#{ref}: our team is reviewing it."),
    "acted_on": _("#{ref}: it was acted on. Thank you! We will share what changed."),
    "not_adopted": _("#{ref}: it was considered but not adopted this time. Thank you for speaking up."),
}
DECIDED_TEXTS = {
    "acted_on": _("#{ref}: it was acted on. What we decided: {decision}"),
    "not_adopted": _("#{ref}: it was considered but not adopted this time. What we decided: {decision}"),
}
NO_EVENTS = _("There are no upcoming events right now. We will let you know when there is one.")
STATUS_UNKNOWN = _("We could not find #{ref} among your messages. Please check the number.")
FALLBACK = _("Thank you, we received your message. Reply MENU to see what you can do.")
KEPT = _("Thank you, we received your message as #{ref}. Reply STATUS {ref} to follow it, or MENU for options.")
NO_ITEMS = _("You have not sent us any feedback yet. Reply FEEDBACK to tell us something.")
ASK_STOP = _("To stop all messages, reply STOP.")
CHOOSE_LANGUAGE = _("Choose your language:")


def _from_step(step: engine.Step, purpose: str, flow_slug: str | None) -> Turn:
    consent = next(
        (e.value for e in reversed(step.effects) if isinstance(e, engine.SetField) and e.field == "consent"), None
    )
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


def _poll_turn(poll: PollView, session: SessionView | None, flows: Mapping[str, Flow], ctx: FlowContext) -> Turn:
    if poll.status != "open":
        if poll.results_url:
            return Turn("reply", (say(ctx, POLL_CLOSED_RESULTS, url=poll.results_url),))
        return Turn("reply", (say(ctx, POLL_CLOSED),))
    if session is not None and session.flow.slug == poll.flow:
        node = session.flow.nodes[session.node]
        return Turn("reply", (engine.ask(node, ctx),))  # resume where they stopped
    return _from_step(engine.start(flows[poll.flow], ctx), "reply", poll.flow)


def _closed(flow: str, world: World) -> PollView:
    known = next((p for p in world.poll_keywords.values() if p.flow == flow), None)
    return known or PollView(flow.removeprefix("poll-"), "closed", flow)


def _resume(turn: Turn, session: SessionView | None, ctx: FlowContext) -> Turn:
    """When a flow that interrupted a poll ends, go back to the poll's question."""
    if not (
        turn.end_session and session is not None and session.paused is not None and turn.consent != Consent.REVOKED
    ):
        return turn
    paused = session.paused
    question = engine.ask(paused.flow.nodes[paused.node], ctx)
    return replace(turn, replies=(*turn.replies, say(ctx, BACK_TO_POLL), question), resume=True)


def route(
    text: str,
    resident: ResidentView,
    session: SessionView | None,
    flows: Mapping[str, Flow],
    ctx: FlowContext,
    *,
    world: World | None = None,
    is_button: bool = False,
    provider_replied: bool = False,
) -> Turn:
    """Decide what one message from a resident does; pure, so that it can be tested as a transcript."""
    stopped = resident.consent == Consent.REVOKED
    keyword, request = (None, StopRequest.NONE) if is_button else read_keyword(text, opted_out=stopped)
    passed_over = my_data.offer_ignored(session, text, ctx, is_button=is_button)
    if passed_over:  # handled as if the offer had not been made (kept as input, or the keyword it is), and it ends
        session = None
    turn = _route(text, resident, session, flows, ctx, world or World(), is_button, provider_replied, keyword)
    if passed_over and turn.start_flow is None:
        turn = replace(turn, end_session=True)
    after = replace(ctx, locale=_locale_after(turn, ctx))
    turn = my_data.after_onboarding(turn, session, resident, flows, after)
    turn = _resume(turn, session, after)
    if request is StopRequest.ASK and turn.purpose != "ignored":
        # Handled as what it also is (an answer, a name), then one question; nothing changes until they say. Alone,
        # it is not kept as input: the question is the answer.
        if session is None:
            turn = Turn("reply")
        turn = replace(turn, replies=(*turn.replies, say(after, ASK_STOP)))
    return turn


def _locale_after(turn: Turn, ctx: FlowContext) -> str:
    chosen = [e.value for e in turn.effects if isinstance(e, engine.SetField) and e.field == "locale" and e.value]
    return chosen[-1] if chosen else ctx.locale


def _route(  # noqa: PLR0911  # one return per rule of precedence
    text: str,
    resident: ResidentView,
    session: SessionView | None,
    flows: Mapping[str, Flow],
    ctx: FlowContext,
    world: World,
    is_button: bool,
    provider_replied: bool,
    keyword: Keyword | None,
) -> Turn:
    """The order of precedence: STOP (its keywords, or a short message asking to stop in other words), HELP and
    START first, whatever the consent; nothing else after STOP; then a resident's own data (ABOUT ME, MY DATA, DELETE
    MY DATA), LANGUAGE and MENU, a poll that closed, what a joined resident asks for, the conversation, onboarding."""
    stopped = resident.consent == Consent.REVOKED
    if keyword is Keyword.OPT_IN:
        started = _opt_in(resident, session, flows, ctx, silent=provider_replied)
        if started is not None:
            return started
        keyword = None  # someone new (Telegram's /start too) goes through onboarding; mid-conversation it answers
    if keyword in (Keyword.OPT_OUT, Keyword.HELP):
        return _consent_keyword(keyword, stopped, session, ctx, silent=provider_replied)
    asked = my_data.request(keyword, resident, flows, ctx, world.my_data)
    if asked is not None or stopped:  # after STOP nothing is sent but answers to START and HELP
        return asked or Turn("ignored")
    if keyword is Keyword.LANGUAGE:
        step = engine.start(flows[ONBOARDING], ctx)
        if resident.consent == Consent.GRANTED and step.replies:  # someone we know: no "Welcome to …"
            first = replace(step.replies[0], text=say(ctx, CHOOSE_LANGUAGE).text)
            step = replace(step, replies=(first, *step.replies[1:]))
        return _from_step(step, "reply", ONBOARDING)
    if keyword is Keyword.MENU:
        return Turn("reply", (say(ctx, MENU),), keyword=keyword)
    in_poll = session is not None and session.flow.slug.startswith("poll-")
    if session is not None and in_poll and session.flow.slug not in {p.flow for p in world.open_polls}:
        # The poll closed while this resident was in it: say so once and let the conversation go.
        return replace(_poll_turn(_closed(session.flow.slug, world), None, flows, ctx), end_session=True)
    if resident.consent == Consent.GRANTED and not is_button:
        asked = check_in.request(text, session, world.check_in, ctx) or agenda.request(
            keyword, world.support, flows, ctx
        )
        asked = asked or _request(text, keyword, session, flows, ctx, world)
        if asked is not None:
            return asked
    if session is not None:
        return _answer(text, session, flows, ctx, world, is_button)
    if resident.consent in (Consent.PENDING, Consent.DECLINED):
        return _from_step(engine.start(flows[ONBOARDING], ctx), "reply", ONBOARDING)
    return _kept(text, ctx)


def _answer(
    text: str, session: SessionView, flows: Mapping[str, Flow], ctx: FlowContext, world: World, is_button: bool
) -> Turn:
    """A message in a conversation: the next step; a poll picked from the list of open ones starts that poll."""
    step = engine.advance(session.flow, session.node, session.state, text, ctx, is_button=is_button)
    chosen = next((p for p in world.open_polls if step.ended and p.flow == step.state.get("answer")), None)
    if session.flow.slug == POLLS_FLOW and chosen is not None:
        return _poll_turn(chosen, None, flows, ctx)
    return _from_step(step, "reply", None)


def _kept(text: str, ctx: FlowContext) -> Turn:
    """A joined resident's message that is no keyword and no answer: input for the team, told its reference (a
    bare yes, ok or thanks is acknowledged, not kept)."""
    ref = ctx.params.get("ref")
    if not ref or is_acknowledgement(text):
        return Turn("reply", (say(ctx, FALLBACK),))
    kept = engine.SubmitFeedback(text, None, may_contact=False)
    return Turn("reply", (say(ctx, KEPT),), effects=(kept,))


def _opt_in(
    resident: ResidentView, session: SessionView | None, flows: Mapping[str, Flow], ctx: FlowContext, *, silent: bool
) -> Turn | None:
    """START in the resident's state: mid-onboarding, the question they are at; from someone who stopped or said no
    before ever joining, the consent question; from someone taking part, that they already are; from someone who
    stopped, subscribed again. None where START is an ordinary message (onboarding, or an answer mid-conversation)."""
    if session is not None and resident.consent in (Consent.PENDING, Consent.GRANTED):
        if resident.consent == Consent.GRANTED:
            return None
        # Asked as it was (the language question with the language it suggested first).
        return Turn("reply", (engine.ask(session.flow.nodes[session.node], with_state(ctx, session.state)),))
    if resident.consent == Consent.PENDING:
        return None
    if resident.consent == Consent.GRANTED:
        return Turn("reply", () if silent else (say(ctx, ALREADY),), keyword=Keyword.OPT_IN)
    if not resident.joined_before:
        onboarding = flows[ONBOARDING]
        step = engine.start(onboarding, ctx, CONSENT_NODE if CONSENT_NODE in onboarding.nodes else None)
        return replace(_from_step(step, "opt_in", ONBOARDING), consent=Consent.PENDING, keyword=Keyword.OPT_IN)
    restarted = () if silent else (say(ctx, RESTARTED),)
    return Turn("opt_in", restarted, consent=Consent.GRANTED, end_session=session is not None, keyword=Keyword.OPT_IN)


def _consent_keyword(
    keyword: Keyword, stopped: bool, session: SessionView | None, ctx: FlowContext, *, silent: bool
) -> Turn:
    """STOP and HELP, answered whatever the consent (silent: the provider, e.g. Twilio Advanced Opt-Out, already
    answered it)."""
    if keyword is Keyword.OPT_OUT:
        stopped_reply = () if silent else (say(ctx, STOPPED),)
        return Turn("opt_out", stopped_reply, consent=Consent.REVOKED, end_session=True, keyword=keyword)
    replies: list[Reply] = [] if silent else [say(ctx, HELP)]
    if session and not stopped and replies:
        node = session.flow.nodes[session.node]
        replies.append(Reply(engine.expected_answer_hint(node, ctx), (), text_direction(ctx.locale)))
    return Turn("help", tuple(replies), keyword=keyword)


def _request(  # noqa: PLR0911  # one return per kind of request
    text: str,
    keyword: Keyword | None,
    session: SessionView | None,
    flows: Mapping[str, Flow],
    ctx: FlowContext,
    world: World,
) -> Turn | None:
    """What a joined resident asks for by a word: check-in at an event (HERE 4821), a poll by its keyword or POLL,
    EVENTS, FEEDBACK, or the status of one of their items; None when the message asks for none of these."""
    keyed = world.poll_keywords.get(fold(text))
    if keyed is not None:
        return _poll_turn(keyed, session, flows, ctx)
    if keyword is Keyword.POLL:
        if session is not None and session.flow.slug.startswith("poll-"):
            return Turn("reply", (engine.ask(session.flow.nodes[session.node], ctx),))
        if not world.open_polls:
            return Turn("reply", (say(ctx, NO_POLL),), keyword=keyword)
        if len(world.open_polls) > 1 and POLLS_FLOW in flows:  # which one: numbered, in the resident's language
            titles = [(p.flow, pick_text(p.title, ctx.locale) or p.slug) for p in world.open_polls]
            listed = [[flow, title, title] for flow, title in titles]
            return _from_step(engine.start(flows[POLLS_FLOW], ctx, state={"listed": listed}), "reply", POLLS_FLOW)
        return _poll_turn(world.open_polls[0], session, flows, ctx)
    if keyword is Keyword.EVENTS and EVENTS_FLOW in flows:
        if not world.events:
            return Turn("reply", (say(ctx, NO_EVENTS),), keyword=keyword)
        zone = str(ctx.resident.get("timezone") or "") or None  # unknown: each event in its own zone
        listings = {str(e.id): e.listing(ctx.locale, zone) for e in world.events}
        listed = [[event_id, line, title] for event_id, (title, line, _) in listings.items()]
        details = {event_id: about for event_id, (_, _, about) in listings.items()}
        step = engine.start(flows[EVENTS_FLOW], ctx, state={"listed": listed, "details": details})
        return _from_step(step, "reply", EVENTS_FLOW)
    if keyword is Keyword.FEEDBACK and FEEDBACK_FLOW in flows:
        return _from_step(engine.start(flows[FEEDBACK_FLOW], ctx), "reply", FEEDBACK_FLOW)
    if world.recent_items is not None:
        lines = [
            say(ctx, STATUS_TEXTS.get(status, STATUS_UNKNOWN), ref=str(ref)).text for ref, status in world.recent_items
        ]
        statuses = Reply("\n".join(lines), (), text_direction(ctx.locale)) if lines else say(ctx, NO_ITEMS)
        return Turn("reply", (statuses,))
    if world.item_status is not None:
        ref, status = world.item_status
        if world.decision is not None and status in DECIDED_TEXTS:  # what was decided, not "we will let you know"
            title, page = world.decision
            said = say(ctx, DECIDED_TEXTS[status], ref=str(ref), decision=pick_text(title, ctx.locale))
            return Turn("reply", (replace(said, text="\n".join(filter(None, [said.text, page]))),))
        return Turn("reply", (say(ctx, STATUS_TEXTS.get(status or "", STATUS_UNKNOWN), ref=str(ref)),))
    return None
