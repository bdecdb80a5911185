"""Gettext catalogs from locales/*.po, loaded once per process and looked up per resident locale."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.i18n.formatting import format_number_for
from bot.i18n.negotiation import SUPPORTED_LOCALES

LOCALES_DIR = Path(__file__).resolve().parent.parent.parent / "locales"
DOMAIN = "messages"


def _load(locale: str) -> NullTranslations:
    po_path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@lru_cache(maxsize=len(SUPPORTED_LOCALES) + 1)
def translations(locale: str) -> NullTranslations:
    """The translations of one locale (English source text when a message is missing)."""
    return _load(locale) if locale in SUPPORTED_LOCALES and locale != "en" else NullTranslations()


class Translator:
    """Gettext functions bound to one locale; passed as an argument, never installed globally."""

    def __init__(self, locale: str) -> None:
        self.locale = locale
        self._t = translations(locale)

    def gettext(self, message: str, **params: object) -> str:
        """Translate a message and fill its {named} parameters."""
        text = self._t.gettext(message)
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        """Translate a message with a plural form chosen by n (Babel's plural rules of the locale); {n} is written
        with the locale's digit grouping ("1.000.000 de mensajes"), in plain spaces that SMS can carry."""
        return self._t.ngettext(singular, plural, n).format(n=format_number_for(n, self.locale, sms=True), **params)


def _(message: str) -> str:
    """Mark a message for extraction without translating it (translated later, per resident)."""
    return message
