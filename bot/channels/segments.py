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


def _table() -> dict[int, str]:
    groups: dict[str, str] = {
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
    table: dict[int, str] = {ord(ch): repl for repl, chars in groups.items() for ch in chars}
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
    return all(ch in _GSM7_ALL for ch in text)


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
