"""The program's own words a resident hears (its description, its contact) are in the resident's language: the
setting for that language, else the catalog's default, never another language's line."""

from __future__ import annotations

import pytest

from bot.conversation.flows.context import FlowContext, render_text
from bot.conversation.router import HELP
from bot.i18n.catalogs import Translator
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.program import Program
from bot.settings import SettingsError, load_settings

ENGLISH_ABOUT = "community health news, polls and events"
SPANISH_ABOUT = "noticias de salud, encuestas y eventos"


def _help(env: dict[str, str], locale: str) -> str:
    program = Program.of(load_settings(env))
    return render_text(HELP, FlowContext(locale, {}, program.params()))


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_each_language_hears_its_own_description_or_the_catalogs(locale: str) -> None:
    env = {"LOOPLINE_PROGRAM_ABOUT": ENGLISH_ABOUT, "LOOPLINE_PROGRAM_ABOUT_ES": SPANISH_ABOUT}
    text = _help(env, locale)
    own = {"en": ENGLISH_ABOUT, "es": SPANISH_ABOUT}.get(locale) or Translator(locale).gettext("news, polls and events")
    assert own in text
    others = {ENGLISH_ABOUT, SPANISH_ABOUT} - {own}
    assert not any(other in text for other in others), text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_default_contact_is_said_in_the_residents_language(locale: str) -> None:
    text = _help({}, locale)
    assert Translator(locale).gettext("the program team") in text
    if locale != "en":
        assert "the program team" not in text
    assert "(510) 555-0100" in _help({"LOOPLINE_HELP_CONTACT": "(510) 555-0100"}, locale)


def test_the_description_of_the_default_language_follows_the_default_locale() -> None:
    env = {"LOOPLINE_DEFAULT_LOCALE": "es", "LOOPLINE_PROGRAM_ABOUT": SPANISH_ABOUT}
    assert SPANISH_ABOUT in _help(env, "es")
    assert SPANISH_ABOUT not in _help(env, "en")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("LOOPLINE_PROGRAM_ABOUT", "x" * 61),
        ("LOOPLINE_PROGRAM_ABOUT_VI", "tin tức " * 10),
        ("LOOPLINE_PROGRAM_ABOUT_FR", "actualités\net sondages"),
    ],
)
def test_a_description_longer_than_a_line_is_refused(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"^{variable}: must be one line of at most 60 characters"):
        load_settings({variable: value})
