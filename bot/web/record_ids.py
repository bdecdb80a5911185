"""The `{name:id}` path convertor: a record id from 1 to MAX_RECORD_ID, so a larger number is a 404 like any path."""

from __future__ import annotations

from starlette.convertors import Convertor

from bot.ids import MAX_RECORD_ID


def digits_up_to(limit: int) -> str:
    """A regular expression matching the decimal numbers 1 to limit (limit > 9), without leading zeros."""
    digits = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}"
    same_length = [
        f"{digits[:place]}[{'1' if place == 0 else '0'}-{int(digit) - 1}][0-9]{{{len(digits) - place - 1}}}"
        for place, digit in enumerate(digits)
        if digit > ("1" if place == 0 else "0")
    ]
    return "|".join([shorter, *same_length, digits])


class RecordIdConvertor(Convertor[int]):
    """Matches only the ids an id column can hold (Starlette's int takes any length, and a DataError followed)."""

    regex = f"(?:{digits_up_to(MAX_RECORD_ID)})"

    def convert(self, value: str) -> int:
        return int(value)

    def to_string(self, value: int) -> str:
        if not 1 <= int(value) <= MAX_RECORD_ID:
            raise ValueError(f"{value} is not a record id")
        return str(int(value))
