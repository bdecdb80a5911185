"""Record ids as people type them: one rule for every form field, query parameter and command-line argument that
names a record by number (a number the id columns cannot hold is "no such record", never a database error)."""

from __future__ import annotations

# Ids are 32-bit integers on PostgreSQL (messages' and the outbox's are 64-bit, but nobody types those).
MAX_RECORD_ID = 2**31 - 1
_MAX_DIGITS = len(str(MAX_RECORD_ID))


def plain_number(raw: str, most: int) -> int | None:
    """A count, size or page typed or sent as ASCII digits (0 to most); None for anything else: "²" and "٣" are
    digits to str.isdigit but not numbers a header, a query or a setting may hold."""
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(most)):
        return None
    value = int(text)
    return value if value <= most else None


def record_id(raw: str) -> int | None:
    """The id `raw` names: a whole number from 1 to MAX_RECORD_ID, in any script's decimal digits, with an optional
    leading `#` and spaces around it; None for anything else (`²`, `1.5`, `-3`, `0`, eleven digits)."""
    text = raw.strip().removeprefix("#")
    if not text.isdecimal() or len(text) > _MAX_DIGITS:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_RECORD_ID else None
