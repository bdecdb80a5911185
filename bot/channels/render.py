"""Rendering a Reply for a channel: buttons on Telegram (and on WhatsApp when they fit), numbered lines elsewhere."""

from __future__ import annotations

from bot.channels.segments import smart_encode
from bot.i18n.catalogs import Translator, _
from bot.messages import BUTTON_SEPARATOR, Address, Channel, Choice, Outbound, Reply

SMS_MAX_CHARACTERS = 1600
TELEGRAM_MAX_CHARACTERS = 4096
WHATSAPP_MAX_BUTTONS = 3  # quick replies in a session message (no template approval)
WHATSAPP_MAX_TITLE = 20  # characters of a quick-reply button's title
WHATSAPP_MAX_ITEMS = 10  # a list picker's items (more than 3 choices)
WHATSAPP_MAX_ITEM = 24  # characters of a list item's title
WHATSAPP_MAX_LEAD = 1024  # characters of a quick-reply content's body
# The button that opens a WhatsApp list of choices (at most 20 characters).
LIST_BUTTON = _("Choose")
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
    if address.channel is Channel.WHATSAPP and _fits_whatsapp(reply):
        # Numbered lines, and the choices kept too: sent as quick-reply buttons (up to 3) or a list (up to 10) when
        # the resident's 24-hour window is open and staff registered a content for that many (decided when sent).
        choices = tuple(_tagged(reply, c) for c in reply.choices)
        lead = _clip(reply.text, WHATSAPP_MAX_LEAD)
        choose = Translator(reply.locale or "en").gettext(LIST_BUTTON) if len(choices) > WHATSAPP_MAX_BUTTONS else ""
        return Outbound(address, _clip(text, SMS_MAX_CHARACTERS), choices, lead=lead, choose=choose)
    return Outbound(address, _clip(text, SMS_MAX_CHARACTERS))


def _fits_whatsapp(reply: Reply) -> bool:
    """Whether a reply's choices fit WhatsApp's interactive messages sent within a session: 1 to 3 quick-reply
    buttons with titles of at most 20 characters, or a list of up to 10 items of at most 24."""
    count = len(reply.choices)
    longest = WHATSAPP_MAX_TITLE if count <= WHATSAPP_MAX_BUTTONS else WHATSAPP_MAX_ITEM
    return (
        reply.buttons
        and reply.numbered
        and 1 <= count <= WHATSAPP_MAX_ITEMS
        and all(len(c.label) <= longest for c in reply.choices)
    )
