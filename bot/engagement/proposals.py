"""Proposals from residents: received as input items of kind "proposal", moderated by staff (published, merged into
a similar one, or declined with a reason the proposer is told in their language), and supported once per resident,
counted by language, area, channel and (in groups of 5 or more) what supporters said about themselves."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from bot.conversation.views import ProposalView
from bot.engagement.feedback.items import allocate_ref
from bot.engagement.feedback.triage import check_reason, record_status
from bot.engagement.residents import about_me
from bot.i18n.bidi import isolate
from bot.i18n.catalogs import Translator, _
from bot.i18n.formatting import babel_locale, format_number_for
from bot.i18n.negotiation import text_direction
from bot.program import Program
from bot.staff import audit
from bot.states import Consent, ItemStatus, ProposalState
from bot.store.engagement import InputItem
from bot.store.models import Resident
from bot.store.outbox import notice_row, queue_once, reachable_address
from bot.store.proposals import Proposal, ProposalSupport

KIND = "proposal"
PUBLISHED = _("Your proposal #{ref} is published: others can support it by replying SUPPORT {ref}.")
DECLINED = _("Your proposal #{ref} was not published this time. Why: {reason}")
COMMITTED = _("#{ref} now has {n} supporters. We commit to answering it by {date}, and will tell you here.")
MERGED = _("Your proposal #{ref} was joined with a similar one, #{into}; its supporters count there too.")


class ProposalError(ValueError):
    """What staff cannot do to a proposal (its message says why)."""


@dataclass(frozen=True, slots=True)
class Listed:
    """A proposal as a list shows it."""

    id: int
    ref: int
    text: str
    state: str
    locale: str
    area: str | None
    channel: str
    supporters: int
    created_at: datetime
    merged_into: int | None  # the reference it was merged into


def received(session: Session, item: InputItem, now: datetime) -> Proposal:
    """A new proposal, waiting for staff."""
    proposal = Proposal(item_id=item.id, state=ProposalState.PENDING, reason="", created_at=now, updated_at=now)
    session.add(proposal)
    return proposal


def by_ref(session: Session, ref: int) -> tuple[Proposal, InputItem] | None:
    """A proposal and its item by the reference residents know."""
    row = session.execute(
        select(Proposal, InputItem).join(InputItem, InputItem.id == Proposal.item_id).where(InputItem.ref == ref)
    ).first()
    return (row[0], row[1]) if row is not None else None


def _published_target(session: Session, proposal: Proposal) -> Proposal:
    """Where support for a proposal goes: itself, or the proposal it was merged into (followed to the end)."""
    seen = {proposal.id}
    while proposal.state == ProposalState.MERGED and proposal.merged_into_id and proposal.merged_into_id not in seen:
        into = session.get(Proposal, proposal.merged_into_id)
        if into is None:
            break
        seen.add(into.id)
        proposal = into
    return proposal


def support_view(session: Session, resident_id: int, ref: int) -> ProposalView:
    """What SUPPORT <ref> would do for this resident: the published proposal (a merged one's), or none."""
    found = by_ref(session, ref)
    if found is None:
        return ProposalView(ref)
    target = _published_target(session, found[0])
    item = session.get(InputItem, target.item_id)
    if target.state != ProposalState.PUBLISHED or item is None:
        return ProposalView(ref)
    already = session.scalar(
        select(ProposalSupport.id).where(
            ProposalSupport.proposal_id == target.id, ProposalSupport.resident_id == resident_id
        )
    )
    return ProposalView(item.ref, target.id, item.text, supporters(session, target.id), already is not None)


def supporters(session: Session, proposal_id: int) -> int:
    """How many residents support a proposal."""
    query = select(func.count()).select_from(ProposalSupport).where(ProposalSupport.proposal_id == proposal_id)
    return int(session.scalar(query) or 0)


def support(
    session: Session,
    proposal_id: int,
    resident: Resident,
    said: tuple[str, str],
    now: datetime,
    program: Program | None = None,
) -> bool:
    """A resident supports a published proposal, once (said: the channel and language they said it in); whether
    this is new. The support that reaches the program's threshold commits a response date, announced to all."""
    channel, locale = said
    known = select(ProposalSupport.id).where(
        ProposalSupport.proposal_id == proposal_id, ProposalSupport.resident_id == resident.id
    )
    if session.scalar(known) is not None:
        return False
    session.add(
        ProposalSupport(
            proposal_id=proposal_id,
            resident_id=resident.id,
            channel=channel,
            locale=locale,
            area=resident.area,
            created_at=now,
        )
    )
    if program is not None:
        session.flush()
        if supporters(session, proposal_id) == program.proposal_threshold:
            _commit(session, proposal_id, now, program)
    return True


def _commit(session: Session, proposal_id: int, now: datetime, program: Program) -> None:
    """A response date for a proposal that reached its threshold of supporters (unless it has one), told to its author
    and every supporter, once each, in their language."""
    proposal = session.get(Proposal, proposal_id)
    item = session.get(InputItem, proposal.item_id) if proposal is not None else None
    if item is None or item.respond_by is not None or item.responded_at is not None:
        return
    item.respond_by = now + timedelta(days=program.response_days)
    backing = select(ProposalSupport.resident_id).where(ProposalSupport.proposal_id == proposal_id)
    backers = set(session.scalars(backing))
    zone = ZoneInfo(program.timezone)
    rows = []
    for resident in session.scalars(select(Resident).where(Resident.id.in_(backers | {item.resident_id or 0}))):
        address = reachable_address(session, resident.id)
        if address is None or resident.consent != Consent.GRANTED:
            continue
        locale = resident.locale_or(program.default_locale)
        when = format_date(item.respond_by.astimezone(zone), format="long", locale=babel_locale(locale))
        count = format_number_for(program.proposal_threshold, locale, sms=True)
        words = {"n": count, "date": isolate(when, text_direction(locale))}
        text = Translator(locale).gettext(COMMITTED, ref=str(item.ref), **words)
        key = f"proposal-committed:{item.ref}:{resident.id}"
        rows.append(notice_row(key, "proposal", resident.id, address, text, locale, now))
    queue_once(session, rows)


def publish(session: Session, proposal: Proposal, item: InputItem, actor: str, now: datetime, program: Program) -> None:
    """Publish a waiting (or declined) proposal: others can support it; the proposer is told (audited)."""
    if proposal.state == ProposalState.PUBLISHED:
        raise ProposalError(f"#{item.ref} is published already.")
    if proposal.state == ProposalState.MERGED:
        raise ProposalError(f"#{item.ref} was merged into another proposal: publish that one.")
    proposal.state, proposal.published_at, proposal.moderated_by, proposal.updated_at = (
        ProposalState.PUBLISHED,
        now,
        actor,
        now,
    )
    record_status(session, item, ItemStatus.UNDER_REVIEW, "Published as a proposal residents can support.", actor, now)
    audit.record(session, actor, "proposal.publish", f"item:{item.ref}", now)
    _tell(session, item, f"proposal-published:{item.ref}", PUBLISHED, program, now)


def decline(
    session: Session, proposal: Proposal, item: InputItem, reason: str, actor: str, now: datetime, program: Program
) -> None:
    """Decline a proposal with the reason the proposer is told (required; audited); its item is not adopted."""
    if not reason.strip():
        raise ProposalError("Say why: the resident who proposed it is told.")
    why = check_reason(reason)
    if proposal.state in (ProposalState.DECLINED, ProposalState.MERGED):
        raise ProposalError(f"#{item.ref} is {proposal.state} already.")
    proposal.state, proposal.reason, proposal.moderated_by, proposal.updated_at = (
        ProposalState.DECLINED,
        why,
        actor,
        now,
    )
    record_status(session, item, ItemStatus.NOT_ADOPTED, why, actor, now)
    audit.record(session, actor, "proposal.decline", f"item:{item.ref}", now, reason=why)
    _tell(session, item, f"proposal-declined:{item.ref}", DECLINED, program, now, reason=why)


def merge(
    session: Session, proposal: Proposal, item: InputItem, into_ref: int, actor: str, now: datetime, program: Program
) -> None:
    """Merge a proposal into a similar published one: its supporters count there (each once); the proposer is told."""
    target = by_ref(session, into_ref)
    if target is None or target[0].state != ProposalState.PUBLISHED or target[0].id == proposal.id:
        raise ProposalError(f"Merge into a published proposal other than #{item.ref} (#{into_ref} is not one).")
    if proposal.state == ProposalState.MERGED:
        raise ProposalError(f"#{item.ref} was merged already.")
    into, into_item = target
    moving = session.scalars(select(ProposalSupport).where(ProposalSupport.proposal_id == proposal.id)).all()
    there = set(session.scalars(select(ProposalSupport.resident_id).where(ProposalSupport.proposal_id == into.id)))
    for supported in moving:
        if supported.resident_id in there:
            session.delete(supported)
        else:
            supported.proposal_id = into.id
    proposal.state, proposal.merged_into_id, proposal.moderated_by, proposal.updated_at = (
        ProposalState.MERGED,
        into.id,
        actor,
        now,
    )
    record_status(session, item, ItemStatus.UNDER_REVIEW, f"Joined with #{into_item.ref}.", actor, now)
    audit.record(session, actor, "proposal.merge", f"item:{item.ref}", now, into=into_item.ref)
    _tell(session, item, f"proposal-merged:{item.ref}", MERGED, program, now, into=str(into_item.ref))


def _tell(
    session: Session, item: InputItem, key: str, message: str, program: Program, now: datetime, **params: str
) -> None:
    """Tell the proposer, once, in their language, on a channel that reaches them (not after STOP)."""
    resident = session.get(Resident, item.resident_id) if item.resident_id is not None else None
    address = reachable_address(session, resident.id) if resident is not None else None
    if resident is None or address is None or resident.consent != Consent.GRANTED:
        return
    locale = resident.locale_or(program.default_locale)
    direction = text_direction(locale)
    words = {name: isolate(value, direction) for name, value in params.items()}
    text = Translator(locale).gettext(message, ref=str(item.ref), **words)
    queue_once(session, [notice_row(key, "proposal", resident.id, address, text, locale, now)])


def listed(session: Session, state: str | None = None, visible: ColumnElement[bool] | None = None) -> list[Listed]:
    """Every proposal (of one state, and only those visible, when asked), the most supported first, then the
    newest."""
    counts = (
        select(ProposalSupport.proposal_id, func.count().label("n")).group_by(ProposalSupport.proposal_id).subquery()
    )
    into_item = select(InputItem.ref).join(Proposal, Proposal.item_id == InputItem.id)
    query = (
        select(Proposal, InputItem, func.coalesce(counts.c.n, 0))
        .join(InputItem, InputItem.id == Proposal.item_id)
        .outerjoin(counts, counts.c.proposal_id == Proposal.id)
        .order_by(func.coalesce(counts.c.n, 0).desc(), InputItem.created_at.desc())
    )
    if state in tuple(ProposalState):
        query = query.where(Proposal.state == state)
    if visible is not None:
        query = query.where(visible)
    found = []
    for proposal, item, n in session.execute(query):
        merged_into = (
            session.scalar(into_item.where(Proposal.id == proposal.merged_into_id)) if proposal.merged_into_id else None
        )
        found.append(
            Listed(
                proposal.id,
                item.ref,
                item.text,
                proposal.state,
                item.locale,
                item.area,
                item.channel,
                int(n),
                item.created_at,
                merged_into,
            )
        )
    return found


def supporter_groups(session: Session, proposal_id: int) -> dict[int, dict[str, str]]:
    """Each supporter's groups, as the representation report counts them (language, area, channel where they said
    it, and what they said about themselves: only ever shown in groups of 5 or more)."""
    who = {
        int(resident_id): {"language": locale, "area": area or "", "channel": channel}
        for resident_id, locale, area, channel in session.execute(
            select(
                ProposalSupport.resident_id, ProposalSupport.locale, ProposalSupport.area, ProposalSupport.channel
            ).where(ProposalSupport.proposal_id == proposal_id)
        )
    }
    among = select(ProposalSupport.resident_id).where(ProposalSupport.proposal_id == proposal_id)
    for resident_id, groups in about_me.groups(session, among).items():
        if resident_id in who:
            who[resident_id].update(groups)
    return who


def from_staff(session: Session, text: str, locale: str, actor: str, now: datetime, rng: random.Random) -> int:
    """A proposal staff publish in residents' name (a theme many raised): no author, published at once; its
    reference (audited)."""
    words = " ".join(text.split())[:1000]
    if not words:
        raise ProposalError("A proposal needs words: name the theme first.")
    ref = allocate_ref(session, rng)
    item = InputItem(
        ref=ref, kind=KIND, resident_id=None, text=words, status=ItemStatus.UNDER_REVIEW, channel="dashboard",
        locale=locale, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(item)
    session.flush()
    proposal = received(session, item, now)
    proposal.state, proposal.published_at, proposal.moderated_by = ProposalState.PUBLISHED, now, actor
    audit.record(session, actor, "proposal.publish", f"item:{ref}", now, from_theme=True)
    return ref
