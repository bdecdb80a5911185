"""Which of our locales a resident gets: es_MX -> es -> default, with Telegram and SMS language hints."""

from __future__ import annotations

import re

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
