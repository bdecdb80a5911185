"""The agenda poll: a draft poll with one ranking question whose choices are the most supported published
proposals, in the words their authors wrote (under their own language and the fallback), for staff to translate
in the poll editor before opening it (languages without a translation get the fallback's words, as the editor says)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.clock import Clock
from bot.conversation.flows.schema import FlowError
from bot.engagement import proposals
from bot.engagement.polls.definition import load_poll
from bot.i18n.catalogs import Translator, _
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.states import ProposalState
from bot.store.engagement import Poll
from bot.store.flow_registry import FlowRegistry

MOST = 6  # choices on one ranking question: a numbered list that fits an SMS
LABEL_LENGTH = 60
TITLE = _("What should we work on first?")
INTRO = _("Residents proposed these. Put the ones that matter most to you in order.")
QUESTION = _("Put up to 3 in order, most important first (e.g. 2 1 4).")
THANKS = _("Thank you! The results will shape our agenda, and we will tell you what we do.")
KEYWORD = _("priorities")  # the agenda poll's keyword (sent in capitals): one word residents text


class AgendaError(ValueError):
    """Why an agenda poll cannot be drafted (its message says what to do)."""


def _each_language(message: str) -> dict[str, str]:
    return {locale: Translator(locale).gettext(message) for locale in SUPPORTED_LOCALES}


def draft(session: Session, flows: FlowRegistry, clock: Clock, fallback: str, now: datetime) -> Poll:
    """A draft agenda poll from the most supported published proposals (at least two); its slug names the day."""
    top = [p for p in proposals.listed(session, ProposalState.PUBLISHED) if " ".join(p.text.split())][:MOST]
    if len(top) < 2:
        raise AgendaError("Publish at least two proposals first: an agenda poll ranks them.")
    slug = f"agenda-{now:%Y-%m-%d}"
    taken = set(session.scalars(select(Poll.slug).where(Poll.slug.like(f"{slug}%"))))
    slug = next(candidate for n in range(1, 100) if (candidate := slug if n == 1 else f"{slug}-{n}") not in taken)
    options: list[dict[str, Any]] = []
    for proposal in top:
        said = " ".join(proposal.text.split())
        words = said if len(said) <= LABEL_LENGTH else said[: LABEL_LENGTH - 1] + "…"
        options.append({"value": f"proposal_{proposal.ref}", "label": {fallback: words, proposal.locale: words}})
    keywords = _each_language(KEYWORD)
    document: dict[str, Any] = {
        "kind": "poll",
        "spec_version": 1,
        "slug": slug,
        "fallback_language": fallback,
        "title": _each_language(TITLE),
        "keywords": {locale: word.upper() for locale, word in keywords.items()},
        "intro": _each_language(INTRO),
        "questions": [
            {"id": "agenda", "kind": "ranking", "max_choices": 3, "text": _each_language(QUESTION), "options": options}
        ],
        "thanks": _each_language(THANKS),
    }
    try:
        poll, _version = load_poll(session, document, flows, clock)
    except FlowError as exc:  # a proposal's words that cannot be a choice: said, not a server error
        raise AgendaError(f"The proposals cannot make a poll as they stand: {exc}") from exc
    return poll
