"""The WhatsApp templates staff registered: an approved Content SID per purpose and language, for messages that
go outside the 24-hour customer-service window, and the quick-reply contents that carry buttons inside it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.store.models import Base, Message


class WhatsAppTemplate(Base):
    """A Twilio Content SID (HX…) registered for a purpose ("update", "broadcast", "reminder", "decision"…, or
    "buttons" for quick replies and "list" for list pickers, with their number in `buttons`) in one language ("*"
    for a language-neutral content such as quick replies)."""

    __tablename__ = "whatsapp_templates"
    __table_args__ = (UniqueConstraint("purpose", "locale", "buttons", name="uq_whatsapp_templates_purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    locale: Mapped[str] = mapped_column(String(16))
    buttons: Mapped[int] = mapped_column(Integer, default=0)  # its buttons or list items (0: a text template)
    content_sid: Mapped[str] = mapped_column(String(34))
    label: Mapped[str] = mapped_column(String(120), default="")  # the name staff know it by in Twilio's console
    created_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window after the resident's last message
ANY_LANGUAGE = "*"
BUTTONS = "buttons"
LIST = "list"  # a list picker: 4 to 10 choices inside the window
# What staff register a template for; a message the program starts uses its own purpose's template in the
# resident's language, else the "update" one (the general template).
PURPOSES = ("update", "broadcast", "reminder", "decision", "event", "reply")
_BY_PREFIX = (
    ("broadcast:", "broadcast"),
    ("reminder:", "reminder"),
    ("decision:", "decision"),
    ("event", "event"),
    ("staff_reply", "reply"),
)
CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
MAX_VARIABLE = 1024  # characters of a template's body variable


def template_purpose(outbox_purpose: str) -> str:
    """The template purpose an outbox row's purpose asks for ("broadcast:12" → "broadcast")."""
    return next((purpose for prefix, purpose in _BY_PREFIX if outbox_purpose.startswith(prefix)), "update")


@dataclass(frozen=True, slots=True)
class Templates:
    """The registered contents, read at once: text templates by (purpose, language), quick replies by buttons, lists
    by items."""

    text: Mapping[tuple[str, str], str]
    buttons: Mapping[int, str]
    lists: Mapping[int, str] = field(default_factory=dict)  # list pickers, by their number of items

    def for_notice(self, purpose: str, locale: str) -> str | None:
        """The Content SID for a message outside the window: its purpose's template in its language, else the
        general one in its language (never another language's)."""
        return self.text.get((purpose, locale)) or self.text.get(("update", locale))


def registered(session: Session) -> Templates:
    """Every registered content (a few dozen rows at most)."""
    text: dict[tuple[str, str], str] = {}
    buttons: dict[int, str] = {}
    lists: dict[int, str] = {}
    for row in session.scalars(select(WhatsAppTemplate)):
        if row.purpose == BUTTONS:
            buttons[row.buttons] = row.content_sid
        elif row.purpose == LIST:
            lists[row.buttons] = row.content_sid
        else:
            text[(row.purpose, row.locale)] = row.content_sid
    return Templates(text, buttons, lists)


def last_messages(session: Session, resident_ids: Iterable[int]) -> dict[tuple[int, str], datetime]:
    """When each of these residents last wrote on WhatsApp, per address: (resident id, number) → time."""
    ids = sorted(set(resident_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(Message.resident_id, Message.address, func.max(Message.created_at))
        .where(Message.resident_id.in_(ids), Message.channel == "whatsapp", Message.direction == "in")
        .group_by(Message.resident_id, Message.address)
    )
    return {(rid, address): at for rid, address, at in rows if rid is not None and at is not None}


def window_open(last_message: datetime | None, now: datetime) -> bool:
    """Whether free-form messages may go: the resident wrote within the last 24 hours."""
    return last_message is not None and now - last_message < WINDOW


def template_variable(text: str) -> str:
    """A message as a template's body variable: WhatsApp refuses new lines, tabs and runs of spaces in one."""
    flat = " · ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return flat if len(flat) <= MAX_VARIABLE else flat[: MAX_VARIABLE - 1] + "…"
