"""What every part may know of the program: its name and contact, public address, default language and zone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings


@dataclass(frozen=True)
class Program:
    """The program as residents hear of it and as the defaults for what a resident has not told us."""

    name: str
    public_url: str | None
    default_locale: str
    timezone: str = "UTC"
    contact: str | None = None  # None: the catalog's "the program team", in the resident's language
    messages_per_month: int = 4
    about: tuple[tuple[str, str], ...] = ()  # (locale, one-line description); others hear the catalog's default
    response_days: int = 60  # every input item is answered within this many days of arriving
    proposal_threshold: int = 25  # supporters at which a proposal gets a committed response date

    @classmethod
    def of(cls, settings: Settings) -> Program:
        """The program the settings describe."""
        return cls(
            settings.program_name,
            settings.public_url,
            settings.default_locale,
            settings.timezone,
            settings.help_contact,
            settings.messages_per_month,
            settings.program_about,
            settings.response_days,
            settings.proposal_threshold,
        )

    def params(self) -> dict[str, str]:
        """The words every flow text may use: {program}, {messages_per_month}, and what {contact} and {about} are
        made of (the context picks the resident's language, or the catalog's default, for those)."""
        words = {"program": self.name, "messages_per_month": str(self.messages_per_month)}
        if self.contact:
            words["contact"] = self.contact
        words.update({f"about.{locale}": text for locale, text in self.about})
        return words

    def pages(self, locale: str) -> Callable[[str], str | None]:
        """The public page of each decision, by slug, in one language."""
        return lambda slug: self.page_url(slug, locale)

    def page_url(self, slug: str, locale: str) -> str | None:
        """The public page of a decision in a language, or None when the program has no public address."""
        if not self.public_url:
            return None
        return f"{self.public_url.rstrip('/')}/public/decisions/{slug}?lang={locale}"
