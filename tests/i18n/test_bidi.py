"""Left-to-right pieces in right-to-left text are isolated (bot.i18n.bidi): the code points, exactly."""

from __future__ import annotations

import pytest

from bot.i18n.bidi import FSI, PDI, isolate


@pytest.mark.parametrize(
    "value",
    ["Eastside Health Voices", "(415) 555-0100", "https://eastside.example/r/health", "9:00 PM", "#4821"],
)
def test_left_to_right_pieces_are_isolated_in_right_to_left_text(value: str) -> None:
    assert isolate(value, "rtl") == f"{FSI}{value}{PDI}"
    assert isolate(isolate(value, "rtl"), "rtl") == f"{FSI}{value}{PDI}"


@pytest.mark.parametrize("value", ["فريق البرنامج", "", "  ", "4821", "٤٨٢١"])
def test_right_to_left_pieces_and_blanks_are_left_alone(value: str) -> None:
    assert isolate(value, "rtl") == value


@pytest.mark.parametrize("value", ["Eastside Health Voices", "(415) 555-0100", "فريق البرنامج"])
def test_nothing_changes_in_left_to_right_text(value: str) -> None:
    assert isolate(value, "ltr") == value
