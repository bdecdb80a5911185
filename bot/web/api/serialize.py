"""Stored rows as the API's JSON objects (a page at a time, with the few queries each page needs); no addresses
unless the caller's role may see them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.conversation.flows.schema import Flow
from bot.store.engagement import (
    Broadcast,
    Decision,
    DecisionLink,
    Event,
    InputItem,
    InputStatusChange,
    Poll,
    Rsvp,
)
from bot.store.models import Address, Resident
from bot.store.staff import User
from bot.web.api.operations import iso


def residents(session: Session, rows: list[Resident], with_addresses: bool) -> list[dict[str, Any]]:
    """Residents; `addresses` (numbers, chat ids) and display names only when with_addresses."""
    by_resident: dict[int, list[Address]] = defaultdict(list)
    if rows:
        ids = [row.id for row in rows]
        for address in session.scalars(select(Address).where(Address.resident_id.in_(ids)).order_by(Address.id)):
            by_resident[address.resident_id].append(address)
    found = []
    for row in rows:
        addresses = by_resident[row.id]
        item: dict[str, Any] = {
            "id": row.id,
            "label": f"Resident #{row.id}",
            "locale": row.locale,
            "timezone": row.timezone,
            "area": row.area,
            "consent": row.consent,
            "channels": sorted({a.channel for a in addresses}),
            "fields": row.fields or {},
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
        }
        if with_addresses:
            item["display_name"] = row.display_name
            item["addresses"] = [
                {"channel": a.channel, "value": a.value, "reachable": a.reachable, "created_at": iso(a.created_at)}
                for a in addresses
            ]
        found.append(item)
    return found


def polls(rows: list[Poll]) -> list[dict[str, Any]]:
    """Polls without their questions."""
    return [
        {
            "slug": row.slug,
            "status": row.status,
            "title": row.title,
            "keywords": row.keywords or {},
            "results_url": row.results_url,
            "area_results": row.area_results,
            "created_at": iso(row.created_at),
            "opened_at": iso(row.opened_at),
            "closed_at": iso(row.closed_at),
        }
        for row in rows
    ]


def questions(flow: Flow | None) -> list[dict[str, Any]]:
    """A poll's questions from its flow, in order, with texts per language and the options."""
    if flow is None:
        return []
    found = []
    for node in flow.nodes.values():
        if not node.question:
            continue
        found.append(
            {
                "id": node.question,
                "kind": node.kind.removeprefix("ask-"),
                "text": node.text,
                "optional": node.skippable,
                "options": [{"value": c.value, "label": c.label} for c in node.choices],
            }
        )
    return found


def rsvp_counts(session: Session, event_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per event: confirmed yes, waitlisted yes, no, maybe."""
    counts: dict[int, dict[str, int]] = {i: {"yes": 0, "waitlisted": 0, "no": 0, "maybe": 0} for i in event_ids}
    if not event_ids:
        return counts
    rows = session.execute(
        select(Rsvp.event_id, Rsvp.response, Rsvp.waitlisted, func.count())
        .where(Rsvp.event_id.in_(event_ids))
        .group_by(Rsvp.event_id, Rsvp.response, Rsvp.waitlisted)
    )
    for event_id, response, waitlisted, count in rows:
        key = "waitlisted" if response == "yes" and waitlisted else str(response)
        counts[event_id][key] = counts[event_id].get(key, 0) + int(count)
    return counts


def events(session: Session, rows: list[Event]) -> list[dict[str, Any]]:
    """Events with their RSVP counts."""
    counts = rsvp_counts(session, [row.id for row in rows])
    return [
        {
            "slug": row.slug,
            "status": row.status,
            "title": row.title,
            "place": row.place,
            "description": row.description or {},
            "starts_at": iso(row.starts_at),
            "ends_at": iso(row.ends_at),
            "timezone": row.timezone,
            "capacity": row.capacity,
            "rsvps": counts[row.id],
            "created_at": iso(row.created_at),
        }
        for row in rows
    ]


def broadcasts(rows: list[Broadcast]) -> list[dict[str, Any]]:
    """Broadcasts as composed (texts per language, audience expression, schedule)."""
    return [
        {
            "id": row.id,
            "name": row.name,
            "texts": row.texts,
            "audience": row.audience,
            "invite": row.invite or {},
            "urgent": row.urgent,
            "fallback_locale": row.fallback_locale,
            "recipients": row.recipients,
            "send_at": iso(row.send_at),
            "created_at": iso(row.created_at),
        }
        for row in rows
    ]


def input_items(session: Session, rows: list[InputItem]) -> list[dict[str, Any]]:
    """Input items (the resident only as an id: never an address)."""
    poll_ids = {row.poll_id for row in rows if row.poll_id is not None}
    user_ids = {row.assigned_to_id for row in rows if row.assigned_to_id is not None}
    slugs = dict(session.execute(select(Poll.id, Poll.slug).where(Poll.id.in_(poll_ids))).all()) if poll_ids else {}
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(user_ids))).all()) if user_ids else {}
    return [
        {
            "ref": row.ref,
            "kind": row.kind,
            "text": row.text,
            "topic": row.topic,
            "tags": list(row.tags or []),
            "status": row.status,
            "rating": row.rating,
            "may_contact": row.may_contact,
            "channel": row.channel,
            "locale": row.locale,
            "area": row.area,
            "poll": slugs.get(row.poll_id) if row.poll_id is not None else None,
            "resident_id": row.resident_id,
            "assigned_to": emails.get(row.assigned_to_id) if row.assigned_to_id is not None else None,
            "publishable": row.publishable,
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
        }
        for row in rows
    ]


def history(session: Session, item_id: int) -> list[dict[str, Any]]:
    """An item's status changes, oldest first, with the reason and who made each."""
    rows = session.scalars(
        select(InputStatusChange)
        .where(InputStatusChange.item_id == item_id)
        .order_by(InputStatusChange.at, InputStatusChange.id)
    )
    return [
        {"from": r.from_status, "to": r.to_status, "reason": r.reason, "actor": r.actor, "at": iso(r.at)} for r in rows
    ]


def decisions(session: Session, rows: list[Decision], with_drafting: bool) -> list[dict[str, Any]]:
    """Decisions with the input items (refs and outcome) and polls linked to them."""
    ids = [row.id for row in rows]
    items: dict[int, list[dict[str, Any]]] = defaultdict(list)
    linked_polls: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        for decision_id, ref, outcome in session.execute(
            select(DecisionLink.decision_id, InputItem.ref, DecisionLink.outcome)
            .join(InputItem, InputItem.id == DecisionLink.input_item_id)
            .where(DecisionLink.decision_id.in_(ids))
            .order_by(InputItem.ref)
        ):
            items[decision_id].append({"ref": ref, "outcome": outcome})
        for decision_id, slug, outcome in session.execute(
            select(DecisionLink.decision_id, Poll.slug, DecisionLink.outcome)
            .join(Poll, Poll.id == DecisionLink.poll_id)
            .where(DecisionLink.decision_id.in_(ids))
            .order_by(Poll.slug)
        ):
            linked_polls[decision_id].append({"slug": slug, "outcome": outcome})
    found = []
    for row in rows:
        item: dict[str, Any] = {
            "slug": row.slug,
            "status": row.status,
            "title": row.title,
            "summary": row.summary,
            "changed": row.changed or {},
            "not_adopted": row.not_adopted or {},
            "decided_by": row.decided_by,
            "partners": list(row.partners or []),
            "items": items[row.id],
            "polls": linked_polls[row.id],
            "created_at": iso(row.created_at),
            "updated_at": iso(row.updated_at),
            "published_at": iso(row.published_at),
        }
        if with_drafting:
            item["created_by"] = row.created_by
        found.append(item)
    return found
