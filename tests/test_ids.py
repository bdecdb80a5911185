"""One rule reads a record id typed by a person (bot.ids.record_id): it never raises, and it takes exactly the
whole numbers an id column can hold, in any script's decimal digits."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ids import MAX_RECORD_ID, plain_number, record_id


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("7", 7),
        (" #4821 ", 4821),
        ("٤٨٢١", 4821),  # Arabic-Indic digits, as an Arabic keyboard types them
        ("１２", 12),  # full-width, as a Chinese input method types them
        (str(MAX_RECORD_ID), MAX_RECORD_ID),
        ("0007", 7),
        (str(MAX_RECORD_ID + 1), None),
        ("0", None),
        ("-3", None),
        ("1.5", None),
        ("²", None),  # a digit to str.isdigit, not a number to int()
        ("⑦", None),
        ("", None),
        ("#", None),
        ("9" * 400, None),
    ],
)
def test_examples(raw: str, expected: int | None) -> None:
    assert record_id(raw) == expected


@given(st.text())
def test_any_text_is_an_id_in_range_or_none(raw: str) -> None:
    value = record_id(raw)
    assert value is None or 1 <= value <= MAX_RECORD_ID


@given(st.integers(min_value=1, max_value=MAX_RECORD_ID))
def test_every_id_reads_back(value: int) -> None:
    assert record_id(str(value)) == record_id(f"#{value}") == value


@given(st.text(max_size=12))
def test_a_plain_number_is_ascii_digits_and_nothing_else(text: str) -> None:
    value = plain_number(text, 10**6)  # never raises, whatever the text ("²", "٣", "𐩀", "1e3", "-1")
    if value is not None:
        assert text.strip().isascii() and text.strip().isdigit() and 0 <= value <= 10**6
    assert plain_number("²", 10) is None and plain_number("٣", 10) is None and plain_number(" 7 ", 10) == 7
    assert plain_number("11", 10) is None


def test_no_code_turns_a_unicode_digit_into_an_int_unchecked() -> None:
    """str.isdigit is true for "²" and "𐩀", which int() cannot read: a 500 or a traceback where one line was due.
    Numbers that people or providers type go through plain_number or record_id (or isdecimal, which int reads)."""
    root = Path(__file__).resolve().parents[1] / "bot"
    found = []
    for path in root.rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            nearby = " ".join(lines[number - 1 : number + 1])
            if ".isdigit()" in line and "isascii()" not in line and "int(" in nearby:
                found.append(f"{path.relative_to(root.parent)}:{number}: {line.strip()}")
    assert found == []
