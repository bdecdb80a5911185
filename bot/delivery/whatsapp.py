"""WhatsApp at send time: inside the 24-hour window a message goes as written (its choices as quick-reply buttons
when staff registered a quick-reply content for that many); outside it, only as the approved template of its
purpose and language, or not at all."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from bot.messages import Outbound
from bot.store.whatsapp import Templates, template_purpose, template_variable, window_open

NO_TEMPLATE = "outside WhatsApp's 24-hour window, and no template for"


def shaped(
    outbound: Outbound, purpose: str, locale: str, last_message: datetime | None, now: datetime, templates: Templates
) -> Outbound | str:
    """The Outbound as it may go to WhatsApp now, or why it may not (a template is missing)."""
    if window_open(last_message, now):
        sid = templates.buttons.get(len(outbound.choices)) if outbound.choices else None
        if sid is None:
            return outbound
        variables = {"1": outbound.lead or outbound.text}
        for index, choice in enumerate(outbound.choices, 1):
            # Button n's title is variable 2n and its id 2n+1 (README, "WhatsApp").
            variables[str(2 * index)] = choice.label
            variables[str(2 * index + 1)] = choice.value
        return replace(outbound, content_sid=sid, content_variables=_json(variables))
    purpose_name = template_purpose(purpose)
    sid = templates.for_notice(purpose_name, locale)
    if sid is None:
        return f"{NO_TEMPLATE} {purpose_name} in {locale}"
    return replace(outbound, content_sid=sid, content_variables=_json({"1": template_variable(outbound.text)}))


def _json(variables: dict[str, str]) -> str:
    return json.dumps(variables, ensure_ascii=False, separators=(",", ":"))
