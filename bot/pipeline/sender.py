"""Who sent a message, in one read: the resident behind the address with their conversation (locked in the one
order every message takes), or a new resident made for an address never seen; statements built once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.conversation.keywords import keyword_language, match_keyword
from bot.i18n.detection import suggest_locale
from bot.i18n.negotiation import negotiate
from bot.messages import Inbound
from bot.states import Consent
from bot.store.models import Address as AddressRow
from bot.store.models import ConversationSession, Message, Resident
from bot.store.prepared import Prepared

RESIDENTS = cast(Table, Resident.__table__)
ADDRESSES = cast(Table, AddressRow.__table__)
SESSIONS = cast(Table, ConversationSession.__table__)
MESSAGES = cast(Table, Message.__table__)


@dataclass(frozen=True, slots=True)
class ResidentRow:
    """What the conversation knows of a resident, as read with their message (not an ORM object: no unit of work)."""

    id: int
    locale: str | None
    timezone: str | None
    consent: str
    area: str | None
    fields: dict[str, Any]
    # Someone new without a language hint: the language their first message seems written in, offered first when
    # they are asked theirs (read from this message only, never stored).
    suggested_locale: str | None = None

    def locale_or(self, default: str) -> str:
        """The resident's language, or the program's default while they have not chosen one."""
        return self.locale or default


@dataclass(frozen=True, slots=True)
class SessionRow:
    """The resident's conversation row as read with their message."""

    id: int
    flow_version_id: int
    node: str
    state: dict[str, Any]


_SENDER = (
    select(
        RESIDENTS.c.id,
        RESIDENTS.c.locale,
        RESIDENTS.c.timezone,
        RESIDENTS.c.consent,
        RESIDENTS.c.area,
        RESIDENTS.c.fields,
        SESSIONS.c.id.label("session_id"),
        SESSIONS.c.flow_version_id,
        SESSIONS.c.node,
        SESSIONS.c.state,
    )
    .select_from(ADDRESSES.join(RESIDENTS, RESIDENTS.c.id == ADDRESSES.c.resident_id))
    .outerjoin(SESSIONS, SESSIONS.c.resident_id == RESIDENTS.c.id)
    .where(ADDRESSES.c.channel == bindparam("channel"), ADDRESSES.c.value == bindparam("value"))
)
# On PostgreSQL the resident's row is locked first, by every message (two from one resident wait for each other
# instead of deadlocking); a key-share lock lets the delivery worker's gate read it meanwhile. SQLite has one writer.
_FIND_SENDER = Prepared({"sqlite": _SENDER, "postgresql": _SENDER.with_for_update(key_share=True, of=RESIDENTS)})
_NEW_RESIDENT = Prepared(
    insert(RESIDENTS).returning(RESIDENTS.c.id),
    ("locale", "consent", "fields", "display_name", "created_at", "updated_at"),
)
_FORGET_RESIDENT = Prepared(delete(RESIDENTS).where(RESIDENTS.c.id == bindparam("resident_id")))
# A first message from one new address in two processes at once: the second address is not stored, its resident
# is forgotten, and the message goes to the first one's.
_NEW_ADDRESS = Prepared(
    {
        name: dialect.insert(ADDRESSES).on_conflict_do_nothing().returning(ADDRESSES.c.resident_id)
        for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
    },
    ("resident_id", "channel", "value", "reachable", "created_at"),
)
# One row per provider id and channel: a duplicate stores nothing and returns no id.
_NEW_MESSAGE = Prepared(
    {
        name: dialect.insert(MESSAGES).on_conflict_do_nothing().returning(MESSAGES.c.id)
        for name, dialect in (("sqlite", sqlite), ("postgresql", postgresql))
    },
    ("resident_id", "direction", "channel", "address", "text", "provider_id", "status", "payload", "created_at"),
)


def _rows(row: tuple[Any, ...]) -> tuple[ResidentRow, SessionRow | None]:
    resident_id, locale, timezone, consent, area, fields, session_id, version_id, node, state = row
    resident = ResidentRow(resident_id, locale, timezone, consent, area, fields or {})
    if session_id is None:
        return resident, None
    return resident, SessionRow(session_id, version_id, node, state or {})


def find_sender(session: Session, inbound: Inbound, now: datetime) -> tuple[ResidentRow, SessionRow | None]:
    """The resident behind the message's address with their conversation, made first for a new address."""
    where = {"channel": inbound.address.channel.value, "value": inbound.address.value}
    suggested: str | None = None
    for _ in range(2):
        found = _FIND_SENDER.first(session, where)
        if found is not None:
            resident, conversation = _rows(found)
            if suggested is None and resident.locale is None and conversation is None and not inbound.language_hint:
                # Known, but never asked their language (their first message was HELP or STOP, say): this one may
                # still tell it.
                suggested = first_message_locale(inbound.text)
            return (replace(resident, suggested_locale=suggested) if suggested else resident), conversation
        hint = negotiate(inbound.language_hint, default="") or None
        suggested = None if hint else first_message_locale(inbound.text)
        values: dict[str, Any] = {
            "locale": hint,
            "consent": Consent.PENDING,
            "fields": {},
            "display_name": inbound.display_name,
            "created_at": now,
            "updated_at": now,
        }
        made = _NEW_RESIDENT.first(session, values)
        assert made is not None  # an INSERT … RETURNING returns its row
        address = {**where, "resident_id": made[0], "reachable": True, "created_at": now}
        if _NEW_ADDRESS.first(session, address) is None:
            _FORGET_RESIDENT.run(session, {"resident_id": made[0]})
    raise LookupError("the address was taken and released again while its first message was stored")


def first_message_locale(text: str) -> str | None:
    """The language a newcomer's message clearly seems written in: a keyword's own language when only one language
    has the word (AYUDA, ALTO, 帮助; not STOP or HELP, which everyone sends), else what the words say."""
    if match_keyword(text) is not None:
        return keyword_language(text)
    return suggest_locale(text)


def store_message(session: Session, values: dict[str, Any]) -> int | None:
    """Store a message's row (every column but the error code given); None when its provider id was stored
    before (a duplicate)."""
    stored = _NEW_MESSAGE.first(session, values)
    return None if stored is None else int(stored[0])
