"""Which of our locales a resident gets: es_MX -> es -> default, with Telegram and SMS language hints."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "es", "zh_Hans", "vi", "ar", "fr")

# Each language named in its own script, for the language menu.
NATIVE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "zh_Hans": "中文",
    "vi": "Tiếng Việt",
    "ar": "العربية",
    "fr": "Français",
}

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur"})

_ALIASES = {"zh": "zh_Hans", "zh_cn": "zh_Hans", "zh_sg": "zh_Hans", "zh_hans": "zh_Hans"}


def negotiate(requested: str | None, default: str = "en") -> str:
    """Map a requested tag (es-MX, zh-hans, ar_EG, fr) to a supported locale, falling back to the default."""
    if not requested:
        return default
    tag = re.sub(r"[^A-Za-z0-9_]", "_", requested.strip()).strip("_").lower()
    while tag:
        if tag in _ALIASES:
            return _ALIASES[tag]
        for locale in SUPPORTED_LOCALES:
            if locale.lower() == tag:
                return locale
        tag = tag.rpartition("_")[0]
    return default


def text_direction(locale: str) -> str:
    """'rtl' for right-to-left scripts, 'ltr' otherwise."""
    return "rtl" if locale.split("_", maxsplit=1)[0] in RTL_LANGUAGES else "ltr"


def pick_text(texts: Mapping[str, Any] | str | None, locale: str, default: str = "en") -> str:
    """The one rule for a staff-written text in a language: that language's, else the text for every language
    ("*"), else the program's default language's, else English's, else any; a blank text does not count."""
    if texts is None:
        return ""
    if isinstance(texts, str):
        return texts
    for key in (locale, "*", default, "en"):
        value = texts.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return next((v for v in texts.values() if isinstance(v, str) and v.strip()), "")
