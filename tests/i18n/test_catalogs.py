"""Tests for the gettext catalogs, locale negotiation and locale-aware formatting."""

from __future__ import annotations

import re
import string
import unicodedata
from datetime import UTC, datetime
from gettext import c2py
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from bot.conversation.flows.engine import SKIP_WORDS
from bot.conversation.keywords import match_check_in, match_keyword, match_status, match_support
from bot.conversation.router import FALLBACK, HELP
from bot.conversation.text import fold
from bot.i18n.catalogs import Translator
from bot.i18n.formatting import babel_locale, format_datetime_for, format_number_for
from bot.i18n.negotiation import SUPPORTED_LOCALES, negotiate, text_direction
from bot.i18n.refresh import refresh

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "locales"
POT = LOCALES / "messages.pot"
LANGUAGE_CHANGED = "Your language is now English. Reply MENU to see what you can do."

# Upper-case words that are not keywords: acronyms any program may use.
ACRONYMS = frozenset({"SMS", "ZIP", "OK"})
# Characters that force an SMS into UCS-2 although a GSM-7 look-alike is just as correct in Latin scripts.
NON_GSM_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026"
ODD_SPACES = "\u00a0\u202f\u2009\u2007"
# Latin letters, including Latin-1, Extended-A/B and Vietnamese (Latin Extended Additional).
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]+")


def _catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _messages(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def _ids(catalog: Catalog) -> set[str]:
    return {message.id if isinstance(message.id, str) else message.id[0] for message in _messages(catalog)}


def _forms(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.fixture(scope="module", params=SUPPORTED_LOCALES)
def locale_catalog(request: pytest.FixtureRequest) -> tuple[str, Catalog]:
    locale: str = request.param
    path = LOCALES / locale / "LC_MESSAGES" / "messages.po"
    assert path.exists(), f"{locale}: missing catalog {path.relative_to(ROOT)}"
    return locale, _catalog(path, locale)


def test_no_untranslated_or_fuzzy_entry(locale_catalog: tuple[str, Catalog]) -> None:
    locale, catalog = locale_catalog
    problems = []
    for message in _messages(catalog):
        if message.fuzzy:
            problems.append(f"{locale}: fuzzy: {message.id!r}")
        if not all(_forms(message.string)):
            problems.append(f"{locale}: untranslated: {message.id!r}")
        if locale == "en" and message.string != message.id:
            problems.append(f"{locale}: msgstr differs from msgid: {message.id!r}")
    assert not problems, "\n".join(problems)


def test_header_language_and_plural_forms(locale_catalog: tuple[str, Catalog]) -> None:
    locale, catalog = locale_catalog
    header = dict(catalog.mime_headers)
    assert header["Language"] == locale
    expected = get_plural(locale)
    assert (catalog.num_plurals, catalog.plural_expr) == (expected.num_plurals, expected.plural_expr), locale
    assert catalog.num_plurals == {"ar": 6, "es": 3, "fr": 3, "zh_Hans": 1, "vi": 1}.get(locale, 2), locale


def test_catalogs_have_exactly_the_template_messages(locale_catalog: tuple[str, Catalog]) -> None:
    locale, catalog = locale_catalog
    expected = _ids(_catalog(POT))
    actual = _ids(catalog)
    assert not expected - actual, f"{locale}: missing msgids (run `make i18n`): {sorted(expected - actual)}"
    assert not actual - expected, f"{locale}: msgids not in messages.pot: {sorted(actual - expected)}"


def test_make_i18n_changes_nothing() -> None:
    """The template holds exactly the code's messages and every catalog is what `make i18n` writes with the
    locked Babel (plural headers included): running it would change no file."""
    stale = [str(path.relative_to(ROOT)) for path in refresh(write=False)]
    assert not stale, f"`make i18n` would change {stale}: run it, translate what it adds, and commit"


def test_placeholders_are_kept(locale_catalog: tuple[str, Catalog]) -> None:
    locale, catalog = locale_catalog
    problems = []
    for message in _messages(catalog):
        wanted = set().union(*(_fields(text) for text in _forms(message.id)))
        for form in _forms(message.string):
            found = _fields(form)
            # A plural form may spell the number out ("one message"), so {n} alone may be missing.
            if found - wanted or (wanted - {"n"}) - found or (not isinstance(message.id, tuple) and found != wanted):
                problems.append(f"{locale}: {message.id!r}: placeholders {sorted(found)} != {sorted(wanted)}")
    assert not problems, "\n".join(problems)


def _upper_runs(text: str) -> list[str]:
    """Runs of upper-case Latin words separated by single spaces ("NGÔN NGỮ", "BỎ QUA", "STOP", "À PROPOS DE MOI");
    a run needs a word of three letters or more."""
    runs: list[list[str]] = []
    end = -1
    for match in _LATIN_WORD.finditer(text):
        word = match.group()
        if word != word.upper() or word == word.lower():
            end = -1
            continue
        if runs and match.start() == end + 1 and text[end] == " ":
            runs[-1].append(word)
        else:
            runs.append([word])
        end = match.end()
    return [" ".join(run) for run in runs if any(len(word) >= 3 for word in run)]


def _recognised(word: str) -> bool:
    return (
        word in ACRONYMS
        or match_keyword(word) is not None
        or fold(word) in SKIP_WORDS
        or match_status(f"{word} 1234") is not None
        or match_check_in(f"{word} 1234") is not None
        or match_support(f"{word} 1234") is not None
    )


def test_upper_case_words_are_keywords_the_bot_recognises(locale_catalog: tuple[str, Catalog]) -> None:
    locale, catalog = locale_catalog
    problems = []
    for message in _messages(catalog):
        for form in _forms(message.string):
            for run in _upper_runs(form):
                if _recognised(run) or all(_recognised(w) for w in run.split() if len(w) >= 3):
                    continue
                problems.append(f"{locale}: {run!r} is not a keyword, in {message.id!r}")
    assert not problems, "\n".join(problems)


def test_upper_runs_find_multi_word_keywords() -> None:
    assert _upper_runs("Trả lời NGÔN NGỮ (LANGUAGE), OK") == ["NGÔN NGỮ", "LANGUAGE"]
    assert not _recognised("FOO")


def test_sms_friendly_punctuation(locale_catalog: tuple[str, Catalog]) -> None:
    locale, catalog = locale_catalog
    banned = ODD_SPACES + ("" if locale in ("zh_Hans", "ar") else NON_GSM_PUNCTUATION)
    problems = [
        f"{locale}: {ch!r} ({unicodedata.name(ch)}) in {message.id!r}"
        for message in _messages(catalog)
        for form in _forms(message.string)
        for ch in form
        if ch in banned
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("es_MX", "es"),
        ("es-419", "es"),
        ("zh-hans", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("ar_EG", "ar"),
        ("fr-CA", "fr"),
        ("en", "en"),
        ("vi-VN", "vi"),
        ("pt-BR", "en"),
        (None, "en"),
        ("", "en"),
        ("  ", "en"),
    ],
)
def test_negotiate(requested: str | None, expected: str) -> None:
    assert negotiate(requested) == expected


def test_negotiate_uses_the_given_default() -> None:
    assert negotiate("pt-BR", default="es") == "es"
    assert negotiate(None, default="fr") == "fr"


def test_text_direction() -> None:
    assert text_direction("ar") == "rtl"
    assert text_direction("en") == "ltr"
    assert text_direction("zh_Hans") == "ltr"


@pytest.mark.parametrize(
    ("locale", "marker"),
    [("es", "recibimos tu mensaje"), ("ar", "استلمنا رسالتك"), ("zh_Hans", "已收到您的消息")],
)
def test_translator_returns_the_translation(locale: str, marker: str) -> None:
    assert marker in Translator(locale).gettext(FALLBACK)


def test_translator_fills_parameters_and_falls_back_to_english() -> None:
    text = Translator("es").gettext(
        HELP, program="Salud Condado", about="noticias", frequency="2/semana", contact="555-0100"
    )
    assert text.startswith("Salud Condado:")
    assert "Pueden aplicarse tarifas de mensajes y datos." in text
    assert "555-0100" in text
    assert Translator("en").gettext(FALLBACK) == FALLBACK
    assert Translator("es").gettext("No such message.") == "No such message."


@pytest.mark.parametrize(
    ("locale", "name"),
    [
        ("en", "English"),
        ("es", "español"),
        ("fr", "français"),
        ("vi", "tiếng Việt"),
        ("zh_Hans", "中文"),
        ("ar", "العربية"),
    ],
)
def test_language_changed_names_the_catalog_language(locale: str, name: str) -> None:
    assert name in Translator(locale).gettext(LANGUAGE_CHANGED)


def test_arabic_plurals_use_six_forms() -> None:
    rule = Locale("ar").plural_form
    assert len({rule(n) for n in (0, 1, 2, 3, 11, 100)}) == 6  # the premise: six categories
    catalog = _catalog(LOCALES / "ar" / "LC_MESSAGES" / "messages.po", "ar")
    plurals = [m for m in _messages(catalog) if isinstance(m.id, tuple)]
    if not plurals:
        return  # no plural message yet: the premise above is what ngettext will rely on
    index_of = c2py(catalog.plural_expr)
    assert {index_of(n) for n in (0, 1, 2, 3, 11, 100)} == set(range(6))
    for message in plurals:
        singular, plural = message.id
        forms = _forms(message.string)
        for n in (0, 1, 2, 3, 11, 100):
            expected = forms[index_of(n)].format(n=n)
            assert Translator("ar").ngettext(singular, plural, n) == expected, (singular, n)
        assert Translator("ar").ngettext(singular, plural, 3) != Translator("ar").ngettext(singular, plural, 11)


ANSWERED = ("{n} resident answered", "{n} residents answered")
# What a reader sees for each count: a plural rule that moves (a Babel upgrade renumbering Arabic's forms, Spanish
# and French gaining "many") must not silently give a count the wrong grammatical form.
PLURAL_GOLDEN = {
    "en": {0: "0 residents answered", 1: "1 resident answered", 11: "11 residents answered"},
    "es": {
        1: "1 residente respondió",
        2: "2 residentes respondieron",
        1_000_000: "1.000.000 de residentes respondieron",
        2_500_000: "2.500.000 residentes respondieron",
    },
    "fr": {
        0: "0 habitant a répondu",
        1: "1 habitant a répondu",
        2: "2 habitants ont répondu",
        1_000_000: "1 000 000 d'habitants ont répondu",
    },
    "ar": {
        0: "أجاب 0 من السكان",
        1: "أجاب ساكن واحد",
        2: "أجاب ساكنان",
        3: "أجاب 3 من السكان",
        11: "أجاب 11 ساكنًا",
        99: "أجاب 99 ساكنًا",
        100: "أجاب 100 من السكان",
        111: "أجاب 111 ساكنًا",
    },
    "vi": {1: "1 cư dân đã trả lời", 1500: "1.500 cư dân đã trả lời"},
    "zh_Hans": {1: "1 位居民作答", 12: "12 位居民作答"},
}


@pytest.mark.parametrize("locale", sorted(PLURAL_GOLDEN))
def test_plural_forms_read_right_for_each_count(locale: str) -> None:
    translator = Translator(locale)
    got = {n: translator.ngettext(*ANSWERED, n) for n in PLURAL_GOLDEN[locale]}
    assert got == PLURAL_GOLDEN[locale]


WHEN = datetime(2026, 3, 15, 19, 5, tzinfo=UTC)  # 12:05 PDT


def test_datetime_for_sms_is_local_and_has_plain_spaces() -> None:
    assert "\u202f" in format_datetime_for(WHEN, "en", "America/Los_Angeles", sms=False)
    text = format_datetime_for(WHEN, "en", "America/Los_Angeles", sms=True)
    assert "12:05" in text
    assert "PM" in text
    assert "\u202f" not in text
    assert "\u00a0" not in text


@pytest.mark.parametrize("locale", ["vi", "ar", "zh_Hans", "es", "fr"])
def test_datetime_in_every_locale(locale: str) -> None:
    text = format_datetime_for(WHEN, locale, "America/Los_Angeles", sms=True)
    assert text
    assert "12:05" in text
    assert not any(unicodedata.category(ch) == "Zs" and ch != " " for ch in text)


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_datetime_for(datetime(2026, 3, 15, 12, 5), "en", "UTC", sms=True)


def test_numbers() -> None:
    assert format_number_for(12345.5, "en") == "12,345.5"
    assert format_number_for(12345.5, "es") == "12.345,5"
    assert format_number_for(12345.5, "fr", sms=True) == "12 345,5"
    assert babel_locale("zh_Hans").language == "zh"
    assert babel_locale("zh_Hans").script == "Hans"
