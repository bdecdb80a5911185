"""A resident's own data, by keyword: ABOUT ME (the optional questions about themselves, also offered once after
joining), MY DATA (a short summary of what is held) and DELETE MY DATA (what they said about themselves at once,
everything after a confirmation)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from babel.dates import format_date

from bot.conversation.flows import engine, questions
from bot.conversation.flows.context import FlowContext, render_text
from bot.conversation.flows.schema import Flow
from bot.conversation.keywords import Keyword
from bot.conversation.text import fold
from bot.conversation.views import DataSummary, ResidentView, SessionView, Turn, started
from bot.i18n.catalogs import _
from bot.i18n.formatting import babel_locale, format_number_for
from bot.i18n.negotiation import text_direction
from bot.messages import Reply
from bot.states import Consent

ABOUT_ME_FLOW = "about-me"
DELETE_FLOW = "delete-my-data"
ONBOARDING = "onboarding"
KEYWORDS = frozenset({Keyword.ABOUT_ME, Keyword.MY_DATA, Keyword.DELETE_MY_DATA})
CHANNEL_NAMES = {"sms": "SMS", "telegram": "Telegram", "whatsapp": "WhatsApp"}

SUMMARY = _(
    "What we hold: your {channels} address, language {language}, area {area}, since {since}. Messages: {messages}. "
    "Poll answers: {answers}. Feedback: {items}. About you: {about_me}. DELETE MY DATA erases it."
)
NOT_GIVEN = _("not given")


def request(
    keyword: Keyword | None,
    resident: ResidentView,
    flows: Mapping[str, Flow],
    ctx: FlowContext,
    summary: DataSummary | None,
) -> Turn | None:
    """What ABOUT ME, MY DATA or DELETE MY DATA does; None where the message is none of them, or an ordinary message
    (ABOUT ME before joining). After STOP nothing is sent, but DELETE MY DATA still deletes what they said about
    themselves."""
    if keyword not in KEYWORDS:
        return None
    if resident.consent == Consent.REVOKED:
        forget = (engine.ForgetAboutMe(),) if keyword is Keyword.DELETE_MY_DATA else ()
        return Turn("ignored", effects=forget)
    if keyword is Keyword.MY_DATA and summary is not None:
        return Turn("reply", (Reply(summary_text(summary, ctx), (), text_direction(ctx.locale)),), keyword=keyword)
    if keyword is Keyword.DELETE_MY_DATA:
        return started(engine.start(flows[DELETE_FLOW], ctx), DELETE_FLOW, keyword, (engine.ForgetAboutMe(),))
    if keyword is Keyword.ABOUT_ME and resident.consent == Consent.GRANTED and ABOUT_ME_FLOW in flows:
        return started(engine.start(flows[ABOUT_ME_FLOW], ctx), ABOUT_ME_FLOW, keyword)
    return None


def after_onboarding(
    turn: Turn, session: SessionView | None, resident: ResidentView, flows: Mapping[str, Flow], ctx: FlowContext
) -> Turn:
    """Once, right after someone joins: the optional questions about themselves, after onboarding's last words."""
    if session is None or session.flow.slug != ONBOARDING:
        return turn
    joined = turn.consent == Consent.GRANTED or bool(session.state.get("joined"))
    if not joined:
        return turn
    if not turn.end_session:
        return replace(turn, session_state={**turn.session_state, "joined": True})
    if resident.about_me_offered or ABOUT_ME_FLOW not in flows or turn.consent == Consent.REVOKED:
        return turn
    step = engine.start(flows[ABOUT_ME_FLOW], ctx)
    return replace(
        turn,
        replies=(*turn.replies, *step.replies),
        effects=(*turn.effects, *step.effects),
        end_session=step.ended,
        start_flow=None if step.ended else ABOUT_ME_FLOW,
        session_node=step.node,
        session_state=step.state,
    )


def offer_ignored(session: SessionView | None, text: str, ctx: FlowContext, *, is_button: bool) -> bool:
    """Whether a message passes over the offer of the questions about oneself (it is no yes, no or skip): then it
    is handled as if the offer had not been made, and the offer ends."""
    if session is None or session.flow.slug != ABOUT_ME_FLOW or session.node != session.flow.start or is_button:
        return False
    offer = session.flow.nodes[session.node]
    return fold(text) not in engine.SKIP_WORDS and not questions.read(offer, text, ctx).understood


def summary_text(summary: DataSummary, ctx: FlowContext) -> str:
    """MY DATA's answer: kinds and counts in the resident's language, never their words."""
    translator = ctx.translator(ctx.locale)
    where = babel_locale(ctx.locale)
    language = babel_locale(summary.language).get_display_name(where) if summary.language else None
    since = format_date(summary.since, format="medium", locale=where) if summary.since else None
    counts = {
        "messages": summary.messages,
        "answers": summary.answers,
        "items": summary.items,
        "about_me": summary.about_me,
    }
    params = {
        "channels": ", ".join(CHANNEL_NAMES.get(c, c) for c in summary.channels) or "-",
        "language": language or translator.gettext(NOT_GIVEN),
        "area": summary.area or translator.gettext(NOT_GIVEN),
        "since": since or "-",
        **{name: format_number_for(n, ctx.locale, sms=True) for name, n in counts.items()},
    }
    return render_text(SUMMARY, replace(ctx, params={**ctx.params, **params}))
