"""Residents who speak up, through the real pipeline: they join, give feedback (with its #ref) and answer polls."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from bot.conversation.flows.loader import read_document
from bot.engagement.polls import definition as poll_store
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import Poll
from tests.support.chat import Chat

DEMO_POLL = Path(__file__).resolve().parents[2] / "bot" / "engagement" / "demo" / "health-priorities.yaml"
# What a resident types in each language: hello, the language menu choice, yes, skip, no, and the feedback keyword.
WORDS = {
    "en": {"hello": "hi", "menu": "1", "yes": "yes", "no": "no", "skip": "skip", "feedback": "FEEDBACK"},
    "es": {"hello": "hola", "menu": "2", "yes": "sí", "no": "no", "skip": "omitir", "feedback": "COMENTARIO"},
    "ar": {"hello": "مرحبا", "menu": "5", "yes": "نعم", "no": "لا", "skip": "تخطي", "feedback": "رأي"},
    "zh_Hans": {"hello": "你好", "menu": "3", "yes": "是", "no": "不", "skip": "跳过", "feedback": "反馈"},
    "vi": {"hello": "Xin chào", "menu": "4", "yes": "có", "no": "không", "skip": "bỏ qua", "feedback": "GÓP Ý"},
    "fr": {"hello": "Bonjour", "menu": "6", "yes": "oui", "no": "non", "skip": "passer", "feedback": "AVIS"},
}
_REF = re.compile(r"#?(\d{4,})")  # "#4821", or in Arabic "الرقم 4821"


def join(
    chat: Callable[..., Chat], channel: Channel, address: str, locale: str = "en", area: str | None = None
) -> Chat:
    """A resident who chose a language, agreed to take part and gave an area (or skipped it)."""
    words = WORDS[locale]
    resident = chat(channel, address)
    resident.send(words["hello"])
    if channel is Channel.TELEGRAM:
        resident.send(locale, button=True)
        resident.send("yes", button=True)
    else:
        resident.send(words["menu"])
        resident.send(words["yes"])
    resident.send(area or words["skip"])
    return resident


def give_feedback(resident: Chat, locale: str, text: str, *, may_contact: bool) -> int:
    """Send feedback (topic skipped); the reference the bot gave for it."""
    words = WORDS[locale]
    resident.send(words["feedback"])
    resident.send(text)
    resident.send(words["skip"])
    said = resident.texts(words["yes"] if may_contact else words["no"])
    found = _REF.search(said[-1])
    assert found, said
    return int(found.group(1))


def open_demo_poll(runtime: Runtime, *, area_results: bool = True) -> None:
    """The demo poll (health-priorities), open; with area_results as asked."""
    with runtime.db.transaction() as session:
        poll, _version = poll_store.load_poll(session, read_document(DEMO_POLL), runtime.flows, runtime.clock)
        poll_store.set_status(session, poll.slug, "open", runtime.clock.now())
        session.scalars(select(Poll).where(Poll.slug == poll.slug)).one().area_results = area_results


def answer_demo_poll(resident: Chat, top_need: str, idea: str | None = None) -> None:
    """Answer the demo poll in English words: the top need (an option's number), a ranking, an idea or skip."""
    resident.send("POLL")
    resident.send(top_need)
    resident.send(f"{top_need} 1" if top_need != "1" else "1 2")
    resident.send(idea or "skip")
