"""What staff type into a form, read once: a field trimmed and bounded, a text per language, a count, one line with
its spaces normalised; the languages a form offers and how staff read their names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.conversation.flows.schema import MAX_SLUG
from bot.i18n.bidi import FSI, PDI
from bot.i18n.negotiation import NATIVE_NAMES, SUPPORTED_LOCALES, text_direction
from bot.ids import plain_number

Texts = dict[str, str]
MAX_TEXT = 1600
SLUG = re.compile(rf"[a-z0-9][a-z0-9_-]{{0,{MAX_SLUG - 1}}}")  # what a content file takes, in lower case
RESERVED_SLUGS = frozenset({"new"})
# The languages a form offers: code, name in its own script, writing direction.
LANGUAGES = [(locale, NATIVE_NAMES[locale], text_direction(locale)) for locale in SUPPORTED_LOCALES]


@dataclass(frozen=True)
class Missing:
    """A text not written in some languages: where it is and which languages lack it."""

    where: str
    languages: tuple[str, ...]


def language_name(locale: str) -> str:
    """A language as staff read it: its own name and code ("Tiếng Việt (vi)"); a right-to-left name is isolated, so
    that "العربية (ar)" keeps its order in a table, a list or a menu of a left-to-right page (and in a CSV)."""
    name = NATIVE_NAMES.get(locale, locale)
    return f"{FSI}{name}{PDI} ({locale})" if text_direction(locale) == "rtl" else f"{name} ({locale})"


LANGUAGE_NAMES = {locale: language_name(locale) for locale in SUPPORTED_LOCALES}


def naming_problems(
    session: Session, slug: str, fallback: str, taken: InstrumentedAttribute[str], what: str, *, new: bool
) -> list[str]:
    """What is wrong with a new or edited item's short name and fallback language, as the editors say it; taken is
    the slug column of its kind, what its name with an article ("An event", "A poll")."""
    problems = []
    if not SLUG.fullmatch(slug) or slug in RESERVED_SLUGS:
        problems.append("The short name must be 1 to 50 lower-case letters, digits, - or _ (and not 'new').")
    elif new and session.scalars(select(taken).where(taken == slug)).first() is not None:
        problems.append(f"{what} named {slug!r} already exists: choose another short name.")
    if fallback and fallback not in SUPPORTED_LOCALES:
        problems.append("Choose a fallback language from the list.")
    return problems


def one_line(text: str, limit: int | None = None) -> str:
    """A name, reason or search as one line: runs of spaces, tabs and line breaks become one space (then bounded)."""
    return " ".join(text.split())[:limit]


def form_field(form: Mapping[str, Any], name: str, limit: int = MAX_TEXT) -> str:
    """A field as typed, trimmed and bounded ("" when absent)."""
    value = form.get(name)
    return str(value).strip()[:limit] if value is not None else ""


def form_texts(form: Mapping[str, Any], prefix: str, limit: int = MAX_TEXT) -> Texts:
    """The languages written for one text (fields like `title.es`), blanks left out."""
    found = {locale: form_field(form, f"{prefix}.{locale}", limit) for locale in SUPPORTED_LOCALES}
    return {locale: text for locale, text in found.items() if text}


def form_count(form: Mapping[str, Any], name: str, default: int, most: int) -> int:
    """A small count typed in a form, bounded (the default when it is not a number)."""
    raw = form_field(form, name, 4)
    value = plain_number(raw, 9999)
    return default if value is None else min(value, most)
