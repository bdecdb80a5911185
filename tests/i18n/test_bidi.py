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


def test_right_to_left_catalogs_keep_no_sign_beside_a_placeholder() -> None:
    """'#{ref}' in Arabic shows the sign on the wrong side of the number on some phones: a right-to-left catalog
    says the number in words ("الرقم 4821"), never a sign glued to a placeholder."""
    import re
    from pathlib import Path

    from babel.messages.pofile import read_po

    from bot.i18n.negotiation import SUPPORTED_LOCALES, text_direction

    locales = Path(__file__).resolve().parents[2] / "locales"
    glued = re.compile(r"[#№+]\{|\}[#+]")
    found = []
    for locale in (code for code in SUPPORTED_LOCALES if text_direction(code) == "rtl"):
        with (locales / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
            for message in read_po(handle, locale=locale):
                forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
                found.extend(f"{locale}: {form!r}" for form in forms if form and glued.search(form))
    assert locales.is_dir() and not found, "\n".join(found)


def test_language_names_keep_their_order_on_a_left_to_right_page() -> None:
    """Every dashboard table, menu and CSV names a language through one function: a right-to-left name is isolated."""
    from bot.engagement.forms import LANGUAGE_NAMES

    assert LANGUAGE_NAMES["ar"] == f"{FSI}العربية{PDI} (ar)"
    assert LANGUAGE_NAMES["vi"] == "Tiếng Việt (vi)"
