"""Who is told about a decision and what: its contributors, once each, on a reachable channel, in their language,
with their own reference and the public page."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import Select, select, union
from sqlalchemy.orm import Session

from bot.i18n.bidi import isolate
from bot.i18n.catalogs import Translator, _
from bot.i18n.negotiation import pick_text, text_direction
from bot.program import Program
from bot.states import Consent
from bot.store.engagement import Answer, Decision, DecisionLink, InputItem
from bot.store.models import Address, Resident

NOTICE = _("{program} - you said, we did: {summary} More: {url}")
NOTICE_WITHOUT_LINK = _("{program} - you said, we did: {summary}")
NOTICE_REF = _("{program} - you said (#{ref}), we did: {summary} More: {url}")
WITH_PARTNERS = _("Decided together with {partners}.")
NOTICE_REF_WITHOUT_LINK = _("{program} - you said (#{ref}), we did: {summary}")


@dataclass(frozen=True)
class Recipient:
    """A resident to tell about a decision: where and in which language."""

    resident: Resident
    channel: str
    locale: str
    address: Address


def _contributors(decision: Decision) -> Select[tuple[int | None]]:
    """The residents behind a decision's linked items and its linked polls' answers (a subquery: a poll can have
    more respondents than a statement can take parameters)."""
    items = (
        select(InputItem.resident_id)
        .join(DecisionLink, DecisionLink.input_item_id == InputItem.id)
        .where(DecisionLink.decision_id == decision.id, InputItem.resident_id.is_not(None))
    )
    answers = (
        select(Answer.resident_id)
        .join(DecisionLink, DecisionLink.poll_id == Answer.poll_id)
        .where(DecisionLink.decision_id == decision.id)
    )
    return select(union(items, answers).subquery().c[0])


def recipients(session: Session, decision: Decision, default_locale: str) -> list[Recipient]:
    """Every resident whose input is linked (items and respondents of linked polls), once, who still takes part
    and can be reached; on their first reachable channel."""
    found: list[Recipient] = []
    rows = session.execute(
        select(Resident, Address)
        .join(Address, Address.resident_id == Resident.id)
        .where(
            Resident.id.in_(_contributors(decision)), Resident.consent == Consent.GRANTED, Address.reachable.is_(True)
        )
        .order_by(Resident.id, Address.id)
    )
    for resident, address in rows:
        if found and found[-1].resident.id == resident.id:
            continue  # a later address of the same resident
        found.append(Recipient(resident, address.channel, resident.locale_or(default_locale), address))
    return found


def audience_summary(found: list[Recipient]) -> dict[str, dict[str, int]]:
    """How many recipients per channel and per language (for the confirmation page)."""
    return {
        "channel": dict(Counter(r.channel for r in found).most_common()),
        "language": dict(Counter(r.locale for r in found).most_common()),
    }


def contributor_refs(session: Session, decision: Decision) -> dict[int, int]:
    """Each contributor's reference among the decision's linked items (their newest), by resident."""
    rows = session.execute(
        select(InputItem.resident_id, InputItem.ref)
        .join(DecisionLink, DecisionLink.input_item_id == InputItem.id)
        .where(DecisionLink.decision_id == decision.id, InputItem.resident_id.is_not(None))
        .order_by(InputItem.created_at, InputItem.id)
    )
    return {int(resident_id): int(ref) for resident_id, ref in rows if resident_id is not None and ref is not None}


def notice_text(
    decision: Decision,
    locale: str,
    program: Program,
    results: tuple[str, ...] = (),
    ref: int | None = None,
    partners: tuple[str, ...] = (),
) -> str:
    """What a resident is told: the decision's short text in their language, their own reference when they sent
    one, the public page (when the program has a public address), the partner organizations it was decided with,
    and poll results."""
    summary = pick_text(decision.summary, locale, program.default_locale)
    url = program.page_url(decision.slug, locale)
    words: dict[str, object] = {"program": program.name, "summary": summary}
    if url:
        words["url"] = url
    if ref is not None:
        words["ref"] = ref
    message = {
        (True, True): NOTICE_REF,
        (True, False): NOTICE_REF_WITHOUT_LINK,
        (False, True): NOTICE,
        (False, False): NOTICE_WITHOUT_LINK,
    }[(ref is not None, bool(url))]
    translator = Translator(locale)
    text = translator.gettext(message, **words)
    together = (
        translator.gettext(WITH_PARTNERS, partners=isolate(", ".join(partners), text_direction(locale)))
        if partners
        else ""
    )
    return "\n".join([text, *(line for line in (together, *results) if line)])
