"""What residents say about themselves (special-category data, GDPR Art. 9): its own consent, the answers stored
apart, deleted at their word, and only ever counted in groups (who may see what: bot/engagement/representation.py
shows them in totals of 5 or more; no page or export shows them per person but the resident's own data export)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from bot.conversation.views import DataSummary
from bot.states import Consent
from bot.store.about_me import AboutMeAnswer, AboutMeConsent
from bot.store.engagement import Answer, InputItem
from bot.store.models import Address, ConsentEvent, Message, Resident
from bot.store.prepared import Prepared

WITHDRAWN = "withdrawn"
PREFER_NOT = "prefer_not"
SEVERAL = "two_or_more"  # a several-choice answer naming more than one group
TEXT_KIND = "ask-text"  # own words: kept for the resident, never a group
REDACTED = "[an answer about themselves, kept apart]"


_CONSENT_STATE = Prepared(
    select(AboutMeConsent.state)
    .where(AboutMeConsent.resident_id == bindparam("resident_id"))
    .order_by(AboutMeConsent.id.desc())
    .limit(1)
)


def consent_state(session: Session, resident_id: int) -> str | None:
    """The resident's latest answer to being asked about themselves (granted, declined, withdrawn), None if never."""
    session.flush()  # an answer given earlier in this unit of work counts
    found = _CONSENT_STATE.first(session, {"resident_id": resident_id})
    return None if found is None else str(found[0])


# Written on a resident's turn, so run prepared (consent_state flushes the unit of work before it reads).
_FORGET_ANSWERS = Prepared(delete(AboutMeAnswer).where(AboutMeAnswer.resident_id == bindparam("resident_id")))
_FORGET_ANSWER = Prepared(
    delete(AboutMeAnswer).where(
        AboutMeAnswer.resident_id == bindparam("resident_id"), AboutMeAnswer.question == bindparam("question")
    )
)
_NEW_CONSENT = Prepared(insert(AboutMeConsent), ("resident_id", "state", "channel", "at"))
_NEW_ANSWER = Prepared(insert(AboutMeAnswer), ("resident_id", "question", "value", "updated_at"))
_REDACT = Prepared(update(Message).where(Message.id == bindparam("message_id")).values(text=bindparam("text")))


def record_consent(session: Session, resident_id: int, state: str, channel: str | None, now: datetime) -> None:
    """Keep a change of that consent as history; answers are held only under it, so a no deletes them."""
    if state != Consent.GRANTED:
        _FORGET_ANSWERS.run(session, {"resident_id": resident_id})
    _NEW_CONSENT.run(session, {"resident_id": resident_id, "state": state, "channel": channel, "at": now})


def record_answer(session: Session, resident_id: int, question: str, value: Any, kind: str, now: datetime) -> None:
    """Keep (or replace) one answer; a skipped question keeps nothing; nothing is kept without the consent."""
    if consent_state(session, resident_id) != Consent.GRANTED:
        return
    _FORGET_ANSWER.run(session, {"resident_id": resident_id, "question": question})
    if value is not None and value != []:
        stored = {"value": value, "kind": kind}
        _NEW_ANSWER.run(session, {"resident_id": resident_id, "question": question, "value": stored, "updated_at": now})


def redact_message(session: Session, message_id: int, kept_as: str = REDACTED) -> None:
    """The message that answered is kept (every message is), but its words live only with the answers, apart."""
    _REDACT.run(session, {"message_id": message_id, "text": kept_as})


def forget(session: Session, resident_id: int, channel: str | None, now: datetime) -> int:
    """Delete everything the resident said about themselves and withdraw that consent; how many answers went."""
    gone = len(list(session.scalars(select(AboutMeAnswer.id).where(AboutMeAnswer.resident_id == resident_id))))
    if consent_state(session, resident_id) == Consent.GRANTED:
        record_consent(session, resident_id, WITHDRAWN, channel, now)
    session.execute(delete(AboutMeAnswer).where(AboutMeAnswer.resident_id == resident_id))
    return gone


def groups(session: Session, among: Select[Any] | None = None) -> dict[int, dict[str, str]]:
    """Each consenting resident's group per question (among some residents: a query of their ids): the option
    chosen, `two_or_more` for several, never their own words. Only for counting: the caller shows totals, never a
    row per person."""
    value, kind = AboutMeAnswer.value["value"], AboutMeAnswer.value["kind"].as_string().label("kind")
    query = select(
        AboutMeAnswer.resident_id,
        AboutMeAnswer.question,
        value.as_string().label("text"),
        value.as_json().label("several"),
        kind,
    )
    if among is not None:
        query = query.where(AboutMeAnswer.resident_id.in_(among))
    found: dict[int, dict[str, str]] = {}
    for resident_id, question, text, several, written_as in session.connection().execute(query):
        if written_as == TEXT_KIND:
            continue
        group = group_of(text if text is not None else several)
        if group:
            found.setdefault(int(resident_id), {})[question] = group
    return found


def group_of(value: Any) -> str | None:
    """The group an answer puts someone in: the value; for several choices the one named, or `two_or_more`."""
    if isinstance(value, list):
        named = [str(v) for v in value if v != PREFER_NOT]
        if not named:
            return PREFER_NOT if value else None
        return named[0] if len(named) == 1 else SEVERAL
    return str(value) if value not in (None, "") else None


def exported(session: Session, resident_id: int) -> dict[str, Any]:
    """The resident's own answers and consent history, for their data export."""
    answers = session.scalars(
        select(AboutMeAnswer).where(AboutMeAnswer.resident_id == resident_id).order_by(AboutMeAnswer.question)
    )
    consents = session.scalars(
        select(AboutMeConsent).where(AboutMeConsent.resident_id == resident_id).order_by(AboutMeConsent.id)
    )
    return {
        "answers": [
            {"question": a.question, "value": a.value.get("value"), "at": a.updated_at.isoformat()} for a in answers
        ],
        "consent_history": [{"state": c.state, "channel": c.channel, "at": c.at.isoformat()} for c in consents],
    }


def summary(session: Session, resident: Resident) -> DataSummary:
    """What MY DATA tells the resident: the kinds of data held and how many of each."""
    rid = resident.id
    channels = tuple(sorted(set(session.scalars(select(Address.channel).where(Address.resident_id == rid)))))
    joined = select(func.min(ConsentEvent.at)).where(
        ConsentEvent.resident_id == rid, ConsentEvent.state == Consent.GRANTED
    )

    def count(column: Any, *where: Any) -> int:
        return int(session.scalar(select(func.count(column)).where(*where)) or 0)

    return DataSummary(
        channels=channels,
        language=resident.locale,
        area=resident.area,
        since=session.scalar(joined) or resident.created_at,
        messages=count(Message.id, Message.resident_id == rid),
        answers=count(Answer.id, Answer.resident_id == rid),
        items=count(InputItem.id, InputItem.resident_id == rid),
        about_me=count(AboutMeAnswer.id, AboutMeAnswer.resident_id == rid),
    )
