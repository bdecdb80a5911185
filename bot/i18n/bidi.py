"""Left-to-right pieces inside right-to-left text: a program name, a phone number, a link, an English fallback or
"9:00 PM" put into an Arabic sentence is wrapped in Unicode directional isolates (FSI … PDI), so that it keeps its
own order and does not drag the words around it out of theirs, on SMS and on Telegram alike."""

from __future__ import annotations

import unicodedata

FSI, PDI = "\u2068", "\u2069"  # FIRST STRONG ISOLATE, POP DIRECTIONAL ISOLATE
_NUMBERS = frozenset({"EN", "AN"})


def isolate(value: str, direction: str) -> str:
    """The value as it should stand in a text of that direction: isolated in right-to-left text when it holds
    left-to-right letters, or a number with signs or words around it ("9:00 PM", "(415) 555-0100", "#4821"); a bare
    number reads right as it is, and costs nothing more (an isolate is a character of a UCS-2 segment)."""
    if direction != "rtl" or not value or (value.startswith(FSI) and value.endswith(PDI)):
        return value
    kinds = {unicodedata.bidirectional(ch) for ch in value if not ch.isspace()}
    if "L" in kinds or (kinds & _NUMBERS and kinds - _NUMBERS):
        return f"{FSI}{value}{PDI}"
    return value
