"""Short, cheap messages: every bot message, in every language, with typical parameters, fits in 3 SMS segments.

Three places a resident's text comes from, each checked as SMS sends it (smart encoding, numbered choices):
the catalogs (every message with typical values for its placeholders), every question of the shipped flows and
demo polls (text, how-to-answer line and options, as one message), and every SMS message of the golden transcripts.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import pytest
import yaml
from babel.messages.pofile import read_po

from bot.channels.render import render
from bot.channels.segments import fits_in_a_bot_message, segment_count
from bot.conversation.flows.context import FlowContext
from bot.conversation.flows.engine import ask
from bot.conversation.flows.loader import read_document, shipped_flows
from bot.conversation.flows.schema import ASK_KINDS, Flow, parse_flow
from bot.engagement.polls.definition import compile_poll
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.messages import Address, Channel, Reply
from bot.program import Program

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
DEMO = ROOT / "bot" / "engagement" / "demo"
GOLDEN = ROOT / "tests" / "golden"
SMS = Address(Channel.SMS, "+14155550100")

PROGRAM = Program("Eastside Health Voices", "https://eastside.example.org", "en", contact="(510) 555-0100")
# What the placeholders typically hold: a program name of 22 characters, a phone number, an event of 20 and a place of
# 36, a decision summary of a sentence, a poll's results in two parts. Staff-written texts (a decision's summary, an
# event's description) are longer at will; the dashboard shows their cost before they are sent.
TYPICAL = {
    **PROGRAM.params(),
    "contact": "(510) 555-0100",
    "frequency": "up to 4 messages a month",
    "about": "news, polls and events",
    "url": "https://eastside.example.org/public/decisions/clinic-hours",
    "ref": "4821",
    "n": "4",
    "limit": "1000",
    "count": "6",
    "low": "1",
    "high": "5",
    "event": "Eastside health fair",
    "details": "",
    "when": "Sat 14 Mar, 10:00 AM - 2:00 PM",
    "place": "Eastside Library, 1200 Foothill Blvd",
    "summary": "The clinic will open on Saturdays from March.",
    "poll": "Health priorities",
    "area": "94110",
    "results": "Clinics 42%, Food 31%",
    "keyword": "JOIN",
    "date": "3 Dec 2026",
    "decision": "The clinic opens on Saturdays",
    "channels": "SMS, Telegram",
    "language": "Tiếng Việt",
    "since": "3 Dec 2026",
    "messages": "1,234",
    "answers": "12",
    "items": "3",
    "about_me": "8",
    "code": "4821",
    "amount": "$25.00",
    "what": "Eastside community health fair",
    "text": "A free clinic on Saturdays at the Eastside library, with interpreters for every language spoken h…",
    "into": "4822",
    "typical": "12 days",
    "partners": "Eastside Promotoras, Mission Tenants Union",
    "ways": "text message, WhatsApp, or Telegram",
    "title": "The clinic opens on Saturdays",
    "why": "The library is closed on Saturdays until June; the clinic opens on Sundays instead.",
    "on_time": "85%",
    "reason": "The city does not own land there; we will raise it with the parks department.",
}


def _sms_segments(text: str) -> int:
    return segment_count(render(Reply(text), SMS).text)


def _catalog_texts() -> list[tuple[str, str, str]]:
    found = []
    for locale in SUPPORTED_LOCALES:
        with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        for message in catalog:
            if not message.id:
                continue
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
            found.extend((locale, msgid, form) for form in forms)
    return found


def test_every_catalog_message_fits_in_three_segments() -> None:
    over = []
    for locale, msgid, form in _catalog_texts():
        fields = {name for _, name, _, _ in string.Formatter().parse(form) if name}
        text = form.format(**{name: TYPICAL[name] for name in fields})
        segments = _sms_segments(text)
        if not fits_in_a_bot_message(text):
            over.append(f"{locale} ({segments} segments, {len(text)} characters): {msgid[:60]!r}")
    assert not over, "\n".join(over)


def _flows() -> list[Flow]:
    flows = [shipped.flow for shipped in shipped_flows()]
    for path in sorted(DEMO.glob("*.yaml")):
        document = read_document(path)
        if "questions" in document:
            flows.append(parse_flow(compile_poll(document)[1]))
    return flows


# Three upcoming events with titles and times as long as the demo's, for the EVENTS list.
LISTED = tuple(
    (str(i), f"{title} - Mon 9 Mar, 10:00 AM - 2:00 PM", title)
    for i, title in enumerate(
        ["Eastside community health fair", "Town hall: what we heard about community health", "Free flu shots"], 1
    )
)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_question_fits_in_three_segments(locale: str) -> None:
    """A question as SMS sends it (its text, the how-to-answer line and its numbered options) for a resident who
    has chosen a language, and the language menu for one who has not (with the language their first message seemed
    written in first, or without)."""
    over = []
    for flow in _flows():
        for node in flow.nodes.values():
            if node.kind not in ASK_KINDS:
                continue
            # The language menu too, for one who has not chosen: as it is, and with each language guessed first.
            cases: list[tuple[str, str | None]] = [("yes", None)]
            if node.until_language_known is not None:
                cases += [("no", guess) for guess in (None, *SUPPORTED_LOCALES)]
            for known, guess in cases:
                params: dict[str, Any] = {**TYPICAL, "event": "Eastside community health fair"}
                facts = {"locale_known": known, "suggested_locale": guess}
                ctx = FlowContext(locale, facts, params, listed=LISTED, fits=fits_in_a_bot_message)
                text = render(ask(node, ctx), SMS).text
                if not fits_in_a_bot_message(text):
                    over.append(f"{flow.slug}/{node.id} ({segment_count(text)} segments):\n{text}")
    assert not over, "\n\n".join(over)


def _golden_sms() -> list[tuple[str, str]]:
    found = []
    for path in sorted(GOLDEN.glob("*.yaml")):
        if "_telegram_" in path.name:
            continue
        for step in yaml.safe_load(path.read_text(encoding="utf-8")):
            found.extend((path.name, text) for text in step.get("bot") or [] if isinstance(text, str))
    return found


def test_every_golden_sms_fits_in_three_segments() -> None:
    over = [
        f"{name} ({segment_count(text)}): {text[:80]!r}"
        for name, text in _golden_sms()
        if not fits_in_a_bot_message(text)
    ]
    assert _golden_sms(), "no golden SMS transcripts found"
    assert not over, "\n".join(over)
