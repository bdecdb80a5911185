"""A resident's rights over their data: everything we hold about them (access), and erasure."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, or_, select, update
from sqlalchemy.orm import Session

from bot.engagement.compensation import ledger
from bot.engagement.residents import about_me
from bot.store import media
from bot.store.about_me import AboutMeAnswer, AboutMeConsent
from bot.store.engagement import Answer, InputItem, Rsvp
from bot.store.models import Address, ConsentEvent, Message, OutboxItem, Resident

ERASED_TEXT = "[erased at the resident's request]"


def find_resident(session: Session, resident_id: int | None = None, address: str | None = None) -> Resident | None:
    """A resident by id, or by one of their addresses (a phone number as texted, or a Telegram chat id)."""
    if resident_id is not None:
        return session.get(Resident, resident_id)
    if address:
        given = address.strip()
        phone = "".join(c for c in given if c.isdigit() or c == "+")
        row = session.scalars(select(Address).where(Address.value.in_({given, phone}))).first()
        return session.get(Resident, row.resident_id) if row else None
    return None


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(session: Session, resident: Resident) -> dict[str, Any]:
    """Everything stored about the resident, as plain JSON-ready data."""
    addresses = session.scalars(select(Address).where(Address.resident_id == resident.id)).all()
    values = [a.value for a in addresses]
    return {
        "resident": {
            "id": resident.id,
            "locale": resident.locale,
            "timezone": resident.timezone,
            "consent": resident.consent,
            "area": resident.area,
            "fields": resident.fields,
            "created_at": _when(resident.created_at),
        },
        "addresses": [{"channel": a.channel, "value": a.value, "reachable": a.reachable} for a in addresses],
        "consent_history": [
            {"state": c.state, "source": c.source, "channel": c.channel, "at": _when(c.at)}
            for c in session.scalars(
                select(ConsentEvent).where(ConsentEvent.resident_id == resident.id).order_by(ConsentEvent.id)
            )
        ],
        "messages": [
            {"direction": m.direction, "channel": m.channel, "text": m.text, "at": _when(m.created_at)}
            for m in session.scalars(
                select(Message)
                .where(or_(Message.resident_id == resident.id, Message.address.in_(values)))
                .order_by(Message.id)
            )
        ],
        "answers": [
            {"poll_id": a.poll_id, "question": a.question, "value": a.value.get("value"), "at": _when(a.updated_at)}
            for a in session.scalars(select(Answer).where(Answer.resident_id == resident.id).order_by(Answer.id))
        ],
        "input": [
            {
                "ref": i.ref,
                "kind": i.kind,
                "text": i.text,
                "topic": i.topic,
                "status": i.status,
                "at": _when(i.created_at),
            }
            for i in session.scalars(
                select(InputItem).where(InputItem.resident_id == resident.id).order_by(InputItem.id)
            )
        ],
        "rsvps": [
            {"event_id": r.event_id, "response": r.response, "waitlisted": r.waitlisted, "at": _when(r.updated_at)}
            for r in session.scalars(select(Rsvp).where(Rsvp.resident_id == resident.id))
        ],
        "files": _files(session, resident.id),
        "about_me": about_me.exported(session, resident.id),
        "compensation": ledger.exported(session, resident.id),
    }


def _files(session: Session, resident_id: int) -> list[dict[str, Any]]:
    """The files the resident sent: what each is, its size and where it stands (the bytes are on the dashboard)."""
    mine = select(media.Attachment).where(media.Attachment.resident_id == resident_id).order_by(media.Attachment.id)
    return [
        {"type": f.content_type or f.declared_type, "size": f.size, "status": f.status, "at": _when(f.created_at)}
        for f in session.scalars(mine)
    ]


def erase(session: Session, resident: Resident) -> dict[str, int]:
    """Delete the resident, their addresses, messages, the files they sent, answers, what they said about themselves,
    RSVPs and queued messages; their input items stay (decisions count them) with the text erased and no link to
    them, and so do the lines of the compensation ledger (finance must balance), without where to send a payment.
    Counts of what went."""
    values = list(session.scalars(select(Address.value).where(Address.resident_id == resident.id)))
    files = media.forget_resident(session, resident.id)  # stored files are deleted once this commits
    messages = _count(
        session.execute(delete(Message).where(or_(Message.resident_id == resident.id, Message.address.in_(values))))
    )
    items = _count(
        session.execute(
            update(InputItem)
            .where(InputItem.resident_id == resident.id)
            .values(text=ERASED_TEXT, resident_id=None, area=None, may_contact=False, publishable=False)
        )
    )
    session.execute(delete(OutboxItem).where(OutboxItem.resident_id == resident.id))
    paid_lines = ledger.unlink(session, resident.id)
    answers = _count(session.execute(delete(Answer).where(Answer.resident_id == resident.id)))
    about = _count(session.execute(delete(AboutMeAnswer).where(AboutMeAnswer.resident_id == resident.id)))
    session.execute(delete(AboutMeConsent).where(AboutMeConsent.resident_id == resident.id))
    session.execute(delete(Address).where(Address.resident_id == resident.id))
    session.execute(delete(Resident).where(Resident.id == resident.id))
    session.expunge(resident)
    return {
        "messages": messages,
        "input_items_anonymised": items,
        "answers": answers,
        "about_me_answers": about,
        "compensation_lines_anonymised": paid_lines,
        "files": files,
    }


def _count(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)
