"""Frozen value objects that cross layer boundaries: addresses, inbound and outbound messages, send results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

BUTTON_SEPARATOR = "|"  # between the question and the value in a button's data: "ask_consent|yes"


class Channel(enum.StrEnum):
    """A way to reach a resident."""

    SMS = "sms"
    TELEGRAM = "telegram"
    WHATSAPP = "whatsapp"
    SIMULATOR = "simulator"


@dataclass(frozen=True, slots=True)
class Address:
    """One channel address of a resident: an E.164 number, a Telegram chat id or a simulator handle."""

    channel: Channel
    value: str


@dataclass(frozen=True, slots=True)
class MediaRef:
    """One file attached to an inbound message, as the provider names it: a Twilio MediaUrl or a Telegram file_id,
    with the type and size the provider declared (not yet fetched or checked)."""

    source: str
    content_type: str | None = None
    size: int | None = None
    filename: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message a resident sent, as a channel adapter parsed it."""

    address: Address
    text: str
    provider_id: str
    received_at: datetime
    language_hint: str | None = None
    display_name: str | None = None
    is_button: bool = False
    raw: dict[str, str] = field(default_factory=dict)
    media: tuple[MediaRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    """A choice offered to the resident: a button on Telegram, a numbered line on SMS."""

    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    """Something the bot says, before it is rendered for a channel."""

    text: str
    choices: tuple[Choice, ...] = ()
    direction: str = "ltr"
    numbered: bool = True  # SMS shows the choices as numbered lines
    buttons: bool = True  # Telegram shows them as buttons (not for questions that take several numbers)
    question: str = ""  # the node that asked: a button carries it, so that a stale press is recognised
    locale: str = ""  # the language it is in, for a channel's own words around it (a WhatsApp list's button)


@dataclass(frozen=True, slots=True)
class Outbound:
    """A rendered message ready for a channel adapter."""

    address: Address
    text: str
    choices: tuple[Choice, ...] = ()
    reference: str = ""
    # WhatsApp: the text above the choices when they can go as quick-reply buttons (text has them as numbered lines)
    lead: str = ""
    # WhatsApp: an approved content (template or quick reply) to send instead of text, with its variables as JSON
    content_sid: str = ""
    content_variables: str = ""
    # WhatsApp: the words of the button that opens a list of choices, in the message's language
    choose: str = ""


class SendStatus(enum.StrEnum):
    """What happened to a send attempt."""

    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a channel adapter reports after trying to send an Outbound."""

    status: SendStatus
    provider_id: str | None = None
    retry_after: float | None = None
    error_code: str | None = None
    error: str | None = None
    opted_out: bool = False
    unreachable: bool = False
