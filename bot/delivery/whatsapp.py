"""WhatsApp at send time: inside the 24-hour window a message goes as written (its choices as quick-reply buttons or
a list when staff registered a content for that many); outside it, only as the approved template of its
purpose and language, or not at all."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from bot.channels.render import WHATSAPP_MAX_BUTTONS
from bot.messages import Outbound
from bot.store.whatsapp import Templates, template_purpose, template_variable, window_open

NO_TEMPLATE = "outside WhatsApp's 24-hour window, and no template for"


def shaped(
    outbound: Outbound, purpose: str, locale: str, last_message: datetime | None, now: datetime, templates: Templates
) -> Outbound | str:
    """The Outbound as it may go to WhatsApp now, or why it may not (a template is missing)."""
    if window_open(last_message, now):
        return _interactive(outbound, templates)
    purpose_name = template_purpose(purpose)
    sid = templates.for_notice(purpose_name, locale)
    if sid is None:
        return f"{NO_TEMPLATE} {purpose_name} in {locale}"
    return replace(outbound, content_sid=sid, content_variables=_json({"1": template_variable(outbound.text)}))


def _interactive(outbound: Outbound, templates: Templates) -> Outbound:
    """Inside the window: the choices as quick-reply buttons (up to 3) or a list (more), when a content for that many
    is registered; else the text with its numbered choices."""
    count = len(outbound.choices)
    buttons = count <= WHATSAPP_MAX_BUTTONS
    sid = (templates.buttons if buttons else templates.lists).get(count) if count else None
    if sid is None:
        return outbound
    variables = {"1": outbound.lead or outbound.text}
    # Button n's title is variable 2n and its id 2n+1; a list's button is 2, item n's title 2n+1 and its id 2n+2
    # (README, "WhatsApp").
    first = 2 if buttons else 3
    if not buttons:
        variables["2"] = outbound.choose  # the list's button, in the question's language (bot.channels.render)
    for index, choice in enumerate(outbound.choices):
        variables[str(first + 2 * index)] = choice.label
        variables[str(first + 2 * index + 1)] = choice.value
    return replace(outbound, content_sid=sid, content_variables=_json(variables))


def _json(variables: dict[str, str]) -> str:
    return json.dumps(variables, ensure_ascii=False, separators=(",", ":"))
