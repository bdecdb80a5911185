"""One rule reads a record id typed by a person (bot.ids.record_id): it never raises, and it takes exactly the
whole numbers an id column can hold, in any script's decimal digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ids import MAX_RECORD_ID, record_id


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
