"""The WhatsApp contents staff register (an approved template per purpose and language, quick replies per number of
buttons): checked, stored once per purpose, language and buttons, audited; from the dashboard or a content file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import FlowError
from bot.engagement.forms import language_name
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.ids import plain_number
from bot.staff import audit
from bot.store.whatsapp import ANY_LANGUAGE, BUTTONS, CONTENT_SID, LIST, PURPOSES, WhatsAppTemplate

KIND = "whatsapp-templates"
MAX_LABEL = 120
PURPOSE_NAMES = {
    "update": "Any message the program starts (the general template)",
    "broadcast": "Broadcasts and poll reminders",
    "reminder": "Event reminders",
    "decision": "Decisions and their progress (you said, we did)",
    "event": "Event changes (a place freed, an event cancelled)",
    "reply": "Staff replies to input",
    BUTTONS: "Quick-reply buttons inside the 24-hour window (any language)",
    LIST: "A list of 4 to 10 choices inside the 24-hour window (any language)",
}
INTERACTIVE = {BUTTONS: (1, 3), LIST: (4, 10)}  # how many choices each kind of interactive content carries
KINDS = (*PURPOSES, BUTTONS, LIST)


@dataclass(frozen=True, slots=True)
class Wanted:
    """One content as staff give it, checked: (purpose, language, buttons) names it; the Content SID and label."""

    purpose: str
    locale: str
    buttons: int
    content_sid: str
    label: str


def checked(purpose: str, locale: str, buttons: str | int, content_sid: str, label: str) -> Wanted:
    """A content to register, or ValueError saying (to staff) what is wrong."""
    purpose, content_sid, label = purpose.strip(), content_sid.strip(), " ".join(label.split())
    if purpose not in KINDS:
        raise ValueError(f"Purpose must be one of {', '.join(KINDS)}.")
    if not CONTENT_SID.fullmatch(content_sid):
        raise ValueError(
            "The Content SID is HX followed by 32 hexadecimal digits, as Twilio's Content Template Builder shows it."
        )
    if len(label) > MAX_LABEL:
        raise ValueError(f"The name is at most {MAX_LABEL} characters.")
    if purpose in INTERACTIVE:
        least, most = INTERACTIVE[purpose]
        count = plain_number(str(buttons), most) or 0
        if not least <= count <= most:
            what = "quick-reply content has 1, 2 or 3 buttons" if purpose == BUTTONS else "list has 4 to 10 items"
            raise ValueError(f"A {what} (WhatsApp's limit inside the window).")
        return Wanted(purpose, ANY_LANGUAGE, count, content_sid, label)
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"Language must be one of {', '.join(SUPPORTED_LOCALES)}.")
    return Wanted(purpose, locale, 0, content_sid, label)


def register(
    session: Session, wanted: Wanted, actor: str, now: datetime, user_id: int | None = None
) -> WhatsAppTemplate:
    """Store a content, replacing the one registered for the same purpose, language and buttons; audited."""
    row = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.purpose == wanted.purpose,
            WhatsAppTemplate.locale == wanted.locale,
            WhatsAppTemplate.buttons == wanted.buttons,
        )
    ).first()
    if row is None:
        row = WhatsAppTemplate(purpose=wanted.purpose, locale=wanted.locale, buttons=wanted.buttons, created_at=now)
        session.add(row)
    row.content_sid, row.label, row.created_at, row.created_by = wanted.content_sid, wanted.label, now, user_id
    session.flush()
    audit.record(
        session, actor, "whatsapp.template.register", f"whatsapp-template:{row.id}", now,
        purpose=wanted.purpose, locale=wanted.locale, buttons=wanted.buttons, content_sid=wanted.content_sid,
    )  # fmt: skip
    return row


def remove(session: Session, template_id: int, actor: str, now: datetime) -> bool:
    """Forget a content (messages that needed it wait for another, or are skipped); audited. False if unknown."""
    row = session.get(WhatsAppTemplate, template_id)
    if row is None:
        return False
    audit.record(
        session, actor, "whatsapp.template.remove", f"whatsapp-template:{row.id}", now,
        purpose=row.purpose, locale=row.locale, buttons=row.buttons, content_sid=row.content_sid,
    )  # fmt: skip
    session.delete(row)
    return True


def listed(session: Session) -> list[dict[str, Any]]:
    """Every registered content, as the dashboard lists them: by purpose, then language."""
    rows = session.scalars(select(WhatsAppTemplate)).all()
    order = {purpose: index for index, purpose in enumerate(KINDS)}
    return [
        {
            "id": row.id,
            "purpose": row.purpose,
            "purpose_name": PURPOSE_NAMES.get(row.purpose, row.purpose),
            "language": "any" if row.locale == ANY_LANGUAGE else language_name(row.locale),
            "buttons": row.buttons,
            "content_sid": row.content_sid,
            "label": row.label,
            "created_at": row.created_at,
        }
        for row in sorted(rows, key=lambda r: (order.get(r.purpose, 99), r.locale, r.buttons))
    ]


def template_problems(document: dict[str, Any]) -> list[FlowError]:
    """Every error of a content file of kind whatsapp-templates (`templates: [{purpose, language | buttons | items,
    content_sid, label}]`), each with its place."""
    entries = document.get("templates")
    if not isinstance(entries, list) or not entries:
        return [FlowError("templates must be a list of {purpose, language, content_sid, label}", place=("templates",))]
    problems = []
    for index, entry in enumerate(entries):
        try:
            _wanted(entry)
        except ValueError as exc:
            problems.append(FlowError(str(exc), place=("templates", index)))
    return problems


def _wanted(entry: Any) -> Wanted:
    if not isinstance(entry, dict):
        raise ValueError("each template is a mapping of purpose, language (or buttons), content_sid and label")
    return checked(
        str(entry.get("purpose", "")),
        str(entry.get("language", "")),
        str(entry.get("items", entry.get("buttons", "0"))),  # a list's items, a quick reply's buttons
        str(entry.get("content_sid", "")),
        str(entry.get("label", "")),
    )


def load_templates(session: Session, document: dict[str, Any], actor: str, now: datetime) -> int:
    """Register every content of a checked file; how many."""
    entries = document["templates"]
    for entry in entries:
        register(session, _wanted(entry), actor, now)
    return len(entries)
