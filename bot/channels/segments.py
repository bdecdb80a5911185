"""SMS encoding (GSM-7 / UCS-2), Twilio-style smart encoding and segment counting."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

# GSM 03.38 default alphabet, in table order (0x1B is the escape to the extension table, not a character).
GSM7_BASIC: frozenset[str] = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each character is sent as ESC + character, so it costs two septets.
GSM7_EXTENDED: frozenset[str] = frozenset("\f^{}\\[~]|€")
_GSM7_ALL: Final = GSM7_BASIC | GSM7_EXTENDED

BOT_MESSAGE_SEGMENTS: Final = 3  # the most SMS segments anything the bot says may cost, in any language
GSM7_SINGLE: Final = 160
GSM7_MULTI: Final = 153
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67


_GROUPS: Final[dict[str, str]] = {
    # Double quotes, double primes, guillemets.
    '"': "\u00ab\u00bb\u201c\u201d\u201e\u201f\u2033\u2036\u02ba\u02ee\u275d\u275e\u301d\u301e",
    # Single quotes, primes, acute/grave accents used as apostrophes (plus ASCII backtick, not in GSM).
    "'": "\u2018\u2019\u201b\u2032\u2035\u00b4\u02b9\u02bb\u02bc\u02bd\u02c8\u02ca\u02cb\u0060\u275b\u275c",
    # Hyphens, dashes, minus signs; bullets become list dashes.
    "-": "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\u2022\u2023\u2043\u2219\u25e6",
    # Asterisk look-alikes.
    "*": "\u204e\u2217",
    # Non-breaking, narrow, thin, figure and other spaces.
    " ": "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000",
    # Zero-width and invisible characters, soft hyphen.
    "": "\u00ad\u200b\u200c\u200d\u2060\ufeff",
    ".": "\u2024",
    "/": "\u2044\u2215",
    ",": "\u201a",  # single low-9 quotation mark
}

# The rest of Twilio's Smart Encoding table (as its segment calculator, npm sms-segments-calculator, holds it):
# fractions, ideographic and small punctuation, ornaments, small capitals, controls dropped; any white space
# becomes one space (what we send is what we replaced, so one space is the cheapest honest choice).
_TWILIO_MORE: Final[dict[str, str]] = {
    "": "\u0000\u0003\u0004\u0010\u0011\u0012\u0013\u0014\u0017\u0019",
    " ": "\u0009\u0080\u008d\u0090\u009b\u009f\u2028\u2029",
    "!": "\u01c3\ufe15\ufe57",
    "!!": "\u203c",
    "#": "\ufe5f",
    "$": "\ufe69",
    "%": "\ufe6a",
    "&": "\ufe60",
    "'": "\u0313\u0314\ufe10\ufe11",
    "(": "\u2768\u276a\u27ee\u2985\ufe59",
    ")": "\u2769\u276b\u27ef\u2986\ufe5a",
    "*": "\u229b\u2722\u2723\u2724\u2725\u2731\u2732\u2733\u273a\u273b\u273c\u273d\u2743\u2749\u274a\u274b\u29c6\ufe61",
    "+": "\u02d6\ufe62",
    ",": "\u0326\u3001\ufe50\ufe51\uff64",
    "-": "\u23bc\u23bd",
    ".": "\u3002\ufe52\uff61",
    "/": "\u00f7\u0337\u0338\u29f8",
    "1/2": "\u00bd",
    "1/4": "\u00bc",
    "3/4": "\u00be",
    ":": "\u02d0\u02f8\u2982\ua789\ufe13",
    ";": "\u204f\ufe14\ufe54",
    "<": "\u2039\ufe64",
    "=": "\u0347\ua78a\ufe66",
    ">": "\u203a\ufe65",
    "?": "\ufe16\ufe56",
    "@": "\ufe6b",
    "A": "\u1d00",
    "B": "\u0299",
    "C": "\u1d04",
    "D": "\u1d05",
    "E": "\u1d07",
    "F": "\ua730",
    "G": "\u0262",
    "H": "\u029c",
    "I": "\u026a",
    "J": "\u1d0a",
    "K": "\u1d0b",
    "L": "\u029f",
    "M": "\u1d0d",
    "N": "\u0274",
    "O": "\u1d0f",
    "P": "\u1d18",
    "R": "\u0280",
    "S": "\ua731",
    "T": "\u1d1b",
    "U": "\u1d1c",
    "V": "\u1d20",
    "W": "\u1d21",
    "Y": "\u028f",
    "Z": "\u1d22",
    "\\": "\u20e5\u29f5\u29f9\ufe68",
    "^": "\u02c6\u0302\u1dcd",
    "_": "\u0332\u2017",
    "{": "\u2774\ufe5b",
    "|": "\u20d2\u20d3\u2223\u239c\u239f\u23b8\u23b9\u23d0",
    "}": "\u2775\ufe5c",
    "~": "\u02dc\u02f7\u0303\u0330\u0334\u223c",
}


def _table() -> dict[int, str]:
    table: dict[int, str] = {ord(ch): repl for repl, chars in _GROUPS.items() for ch in chars}
    table.update({ord(ch): repl for repl, chars in _TWILIO_MORE.items() for ch in chars if ord(ch) not in table})
    table[0x2025] = ".."
    table[0x2026] = "..."
    # Full-width ASCII forms U+FF01..U+FF5E map onto U+0021..U+007E.
    for code in range(0xFF01, 0xFF5F):
        table[code] = chr(code - 0xFEE0)
    table[0xFF40] = "'"  # full-width grave accent: ASCII backtick is not GSM-7 either
    return table


_SMART_TABLE: Final = _table()


def _substitute(text: str) -> str:
    return text.translate(_SMART_TABLE)


def _is_gsm7(text: str) -> bool:
    return _GSM7_ALL.issuperset(text)


def smart_encode(text: str) -> str:
    """Return ``text`` rewritten with GSM-7 look-alikes when that makes the whole message GSM-7.

    Curly quotes, primes, dashes, the ellipsis, non-breaking/narrow/thin spaces, full-width ASCII
    forms and some bullets are replaced; zero-width characters and soft hyphens are dropped; a
    decomposed accent (``e`` + U+0301) is composed when the result is a GSM-7 letter.

    The rewrite is all-or-nothing: if the message would still need UCS-2 afterwards (Vietnamese,
    Arabic, Chinese, emoji, ``á``...), it is returned unchanged, because replacing a few characters
    would save nothing and would alter punctuation that belongs to that script (e.g. full-width
    ``，`` in Chinese). This also makes dropping U+200D safe: emoji ZWJ sequences are never GSM-7.
    It is also skipped if it would cost more segments (``…`` becomes three septets, ``［`` two).
    """
    if _is_gsm7(text):
        return text
    candidate = _substitute(unicodedata.normalize("NFC", text))
    if _is_gsm7(candidate) and segment_count(candidate) <= segment_count(text):
        return candidate
    return text


def encoding(text: str) -> str:
    """Return ``"GSM-7"`` if every character is in the GSM 03.38 default alphabet or extension table."""
    return GSM7 if _is_gsm7(text) else UCS2


def _unit_widths(text: str) -> tuple[list[int], int, int]:
    """Per-character widths in the message's own units, with the single and multi-part capacities."""
    if _is_gsm7(text):
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text], GSM7_SINGLE, GSM7_MULTI
    # UTF-16 code units: characters outside the BMP are a surrogate pair.
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text], UCS2_SINGLE, UCS2_MULTI


def segment_count(text: str) -> int:
    """Number of SMS segments needed for ``text`` (an empty body counts as one, as Twilio does).

    GSM-7 counts septets (extension characters take two); UCS-2 counts UTF-16 code units. A message
    over the single-segment limit is split into parts of 153 septets / 67 code units, and an escape
    pair or surrogate pair is never split, so a part may end one unit short.
    """
    widths, single, multi = _unit_widths(text)
    if sum(widths) <= single:
        return 1
    segments, used = 1, 0
    for width in widths:
        if used + width > multi:
            segments += 1
            used = 0
        used += width
    return segments


def fits_in_a_bot_message(text: str) -> bool:
    """Whether a text, sent by SMS (smart-encoded), costs no more than a bot message may: 3 segments."""
    return segment_count(smart_encode(text)) <= BOT_MESSAGE_SEGMENTS


@dataclass(frozen=True)
class SmsCost:
    """What sending a text by SMS costs: encoding, segment count and what forced UCS-2."""

    encoding: str
    segments: int
    characters: int
    """Number of Unicode code points in the text that would be sent (after smart encoding)."""
    ucs2_characters: tuple[str, ...]
    """Distinct characters outside GSM-7, in order of first appearance; empty for GSM-7."""


def analyse(text: str, smart: bool = True) -> SmsCost:
    """Cost of sending ``text`` by SMS, after :func:`smart_encode` unless ``smart`` is false."""
    body = smart_encode(text) if smart else text
    offending = tuple(dict.fromkeys(ch for ch in body if ch not in _GSM7_ALL))
    return SmsCost(
        encoding=encoding(body),
        segments=segment_count(body),
        characters=len(body),
        ucs2_characters=offending,
    )
