"""Residents setting the agenda: PROPOSE (each language's words) opens the proposal conversation, and SUPPORT and a
published proposal's number (each language) supports it, once, told how many support it now."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bot.conversation.flows import engine
from bot.conversation.flows.context import FlowContext, say
from bot.conversation.flows.schema import Flow
from bot.conversation.keywords import Keyword
from bot.conversation.views import ProposalView, Turn, started
from bot.i18n.catalogs import _

PROPOSE_FLOW = "propose"
PROPOSAL_TOPIC = "proposal"  # the topic the proposal conversation gives its item: it makes the item a proposal
SHOWN = 80  # characters of a proposal said back in a reply (three SMS segments hold the rest of the message)

SUPPORTED = _("Thank you! You support #{ref}: {text}")
ALREADY = _("You already support #{ref}: {text}")
NOT_FOUND = _(
    "We could not find a published proposal #{ref}. Please check the number, or reply PROPOSE to suggest one."
)


def request(
    keyword: Keyword | None, found: ProposalView | None, flows: Mapping[str, Flow], ctx: FlowContext
) -> Turn | None:
    """What PROPOSE or SUPPORT <number> does; None where the message is neither."""
    if found is not None:
        return support(found, ctx)
    if keyword is Keyword.PROPOSE and PROPOSE_FLOW in flows:
        step = engine.start(flows[PROPOSE_FLOW], ctx, state={"answers": {"topic": PROPOSAL_TOPIC}})
        return started(step, PROPOSE_FLOW, keyword)
    return None


def support(found: ProposalView, ctx: FlowContext) -> Turn:
    """Supported (the effect, with the count after it), already supported, or no such published proposal."""
    if found.proposal_id is None:
        return Turn("reply", (say(ctx, NOT_FOUND, ref=str(found.ref)),))
    shown = found.text if len(found.text) <= SHOWN else found.text[: SHOWN - 1].rstrip() + "…"
    count = found.supporters + (0 if found.already else 1)
    said = say(ctx, ALREADY if found.already else SUPPORTED, ref=str(found.ref), text=shown)
    many = ctx.translator(ctx.locale).ngettext("{n} person supports it.", "{n} people support it.", count)
    reply = replace(said, text=f"{said.text}\n{many}")
    effects = () if found.already else (engine.Support(found.proposal_id),)
    return Turn("reply", (reply,), effects=effects)
