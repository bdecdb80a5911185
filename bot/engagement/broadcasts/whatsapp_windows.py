"""A broadcast's WhatsApp recipients per language: how many are inside the 24-hour window (the text goes as
written) and outside it (only the approved template of their language can reach them), and which template."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.engagement.broadcasts.audiences import Recipient
from bot.engagement.forms import language_name
from bot.messages import Channel
from bot.store.whatsapp import last_messages, registered, window_open

PURPOSE = "broadcast"


@dataclass(frozen=True, slots=True)
class WhatsAppLanguage:
    """One language's WhatsApp recipients: inside and outside the window, and the Content SID the outside ones get
    (None: no template, so they cannot be reached)."""

    locale: str
    inside: int
    outside: int
    template: str | None

    @property
    def unreachable(self) -> int:
        """Recipients outside the window with no template in their language."""
        return self.outside if self.template is None else 0


def whatsapp_languages(session: Session, found: Sequence[Recipient], at: datetime | None) -> list[WhatsAppLanguage]:
    """The WhatsApp recipients per language, as they stand at `at` (when the broadcast goes; None: all outside)."""
    on_whatsapp = [r for r in found if r.channel == Channel.WHATSAPP.value]
    if not on_whatsapp:
        return []
    last = last_messages(session, (r.resident_id for r in on_whatsapp))
    templates = registered(session)
    counts: dict[str, list[int]] = {}
    for recipient in on_whatsapp:
        inside = at is not None and window_open(last.get((recipient.resident_id, recipient.address)), at)
        counts.setdefault(recipient.locale, [0, 0])[0 if inside else 1] += 1
    return [
        WhatsAppLanguage(locale, inside, outside, templates.for_notice(PURPOSE, locale))
        for locale, (inside, outside) in sorted(counts.items())
    ]


def missing_templates(languages: Sequence[WhatsAppLanguage]) -> str | None:
    """What staff must do before sending, when some WhatsApp recipients could not be reached (None: nothing)."""
    lacking = [f"{language_name(entry.locale)}: {entry.unreachable}" for entry in languages if entry.unreachable]
    if not lacking:
        return None
    return (
        f"Some WhatsApp recipients are outside the 24-hour window and their language has no approved template "
        f"({', '.join(lacking)}): register one under WhatsApp templates, or leave WhatsApp out of the audience."
    )
