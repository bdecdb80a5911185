"""Rendering a Reply for a channel: buttons on Telegram, numbered lines on SMS and in the simulator."""

from __future__ import annotations

from bot.channels.segments import smart_encode
from bot.messages import BUTTON_SEPARATOR, Address, Channel, Choice, Outbound, Reply

SMS_MAX_CHARACTERS = 1600
TELEGRAM_MAX_CHARACTERS = 4096
_RLM = "\u200f"


def numbered_lines(reply: Reply) -> str:
    """The reply's text followed by one "N label" line per choice, as SMS shows choices."""
    if not reply.choices or not reply.numbered:
        return reply.text
    # Arabic lines start with a right-to-left mark so that "1 العربية" keeps its order on every phone.
    mark = _RLM if reply.direction == "rtl" else ""
    lines = [f"{mark}{index} {choice.label}" for index, choice in enumerate(reply.choices, 1)]
    return reply.text + "\n" + "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tagged(reply: Reply, choice: Choice) -> Choice:
    """A button's data names the question that offered it ("ask_consent|yes"), within Telegram's 64 bytes."""
    data = f"{reply.question}{BUTTON_SEPARATOR}{choice.value}" if reply.question else choice.value
    return Choice(data, choice.label) if len(data.encode()) <= 64 else choice


def render(reply: Reply, address: Address) -> Outbound:
    """The Outbound that carries a reply to an address on its channel."""
    if address.channel is Channel.TELEGRAM:
        if not reply.buttons:
            return Outbound(address, _clip(numbered_lines(reply), TELEGRAM_MAX_CHARACTERS))
        return Outbound(
            address, _clip(reply.text, TELEGRAM_MAX_CHARACTERS), tuple(_tagged(reply, c) for c in reply.choices)
        )
    text = numbered_lines(reply)
    if address.channel is Channel.SMS:
        text = smart_encode(text)  # curly quotes, dashes, odd spaces: kept GSM-7 when that is all that stood in the way
    return Outbound(address, _clip(text, SMS_MAX_CHARACTERS))
