"""API routes for input items (feedback, open poll answers): list with filters, CSV export, history, and triage
through bot/engagement/triage.py (status with a reason, tags, topic), each change audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.engagement.feedback import triage
from bot.engagement.feedback.export import EXPORT_ROWS, PAGE_ROWS, Cursor, items_csv_page
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.staff import sharing
from bot.staff.accounts import Staff
from bot.store.engagement import Decision, DecisionLink, InputItem, Poll
from bot.web.api import serialize
from bot.web.api.content import visible_decisions
from bot.web.api.operations import (
    AFTER,
    LIMIT,
    NO_STORE,
    ApiError,
    Param,
    bad_request,
    data,
    iso,
    not_found,
    operation,
    page,
    read_json,
    wants_csv,
)
from bot.web.api.schemas import ITEM_STATUSES, page_of, ref
from bot.web.downloads import csv_pages
from bot.web.guard import runtime_of, staff_of

ITEM_REF = Param("ref", "integer", "The item's reference (the number residents quote).", where="path", minimum=1)
ITEM_FILTERS = (
    Param("status", "enum", "Only items in this status.", choices=ITEM_STATUSES),
    Param("kind", "enum", "Only feedback, open poll answers or event feedback.", choices=triage.KINDS),
    Param("topic", "string", "Only items with this topic.", max_length=64),
    Param("area", "string", "Only items from this area (case-insensitive)."),
    Param("language", "enum", "Only items in this language.", choices=SUPPORTED_LOCALES),
    Param("poll", "slug", "Only open answers to this poll (its slug)."),
    Param("since", "date-time", "Only items received at or after this time (ISO 8601; UTC when no zone)."),
)
PARTNER_ITEMS = "Partners see and change only items shared with their organization (one by one, by topic or poll)."
PATCH_KEYS = {"status", "reason", "tags", "topic"}


def filtered(session: Session, staff: Staff, args: dict[str, Any]) -> Select[Any]:
    """The items the caller may see that match the filters."""
    query = select(InputItem).where(sharing.visible_to(session, staff, "item"))
    if args["status"]:
        query = query.where(InputItem.status == args["status"])
    if args["kind"]:
        query = query.where(InputItem.kind == args["kind"])
    if args["topic"]:
        query = query.where(InputItem.topic == args["topic"])
    if args["area"]:
        query = query.where(func.lower(InputItem.area) == args["area"].lower())
    if args["language"]:
        query = query.where(InputItem.locale == args["language"])
    if args["poll"]:
        query = query.where(InputItem.poll_id.in_(select(Poll.id).where(Poll.slug == args["poll"])))
    if args["since"]:
        query = query.where(InputItem.created_at >= args["since"])
    return query


@operation(
    "GET",
    "/input-items",
    permission="view",
    summary="Input items, a page at a time, or every match as CSV",
    description=PARTNER_ITEMS + " With format=csv every matching item (up to 50,000) is returned; limit/after apply "
    "to JSON pages.",
    params=(LIMIT, AFTER, *ITEM_FILTERS),
    response=page_of("InputItem"),
    csv=True,
    tag="input items",
)
async def list_input_items(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/input-items[?format=csv]."""
    runtime, staff = runtime_of(request), staff_of(request)
    csv = wants_csv(request, args)

    if csv:
        timezone, stamp = runtime.settings.timezone, (iso(runtime.clock.now()) or "")[:10]

        def csv_page(session: Session, after: Cursor | None) -> tuple[str, Cursor | None]:
            return items_csv_page(session, filtered(session, staff, args), timezone, after)

        return csv_pages(runtime.db, csv_page, EXPORT_ROWS // PAGE_ROWS, f"input-items-{stamp}.csv", NO_STORE)

    def load(session: Session) -> dict[str, Any]:
        query = filtered(session, staff, args)
        return page(session, query, InputItem.id, args, lambda rows: serialize.input_items(session, rows))

    return data(await runtime.db.in_transaction(load))


def _find(session: Session, staff: Staff, ref: int) -> InputItem:
    item = session.scalars(
        select(InputItem).where(InputItem.ref == ref, sharing.visible_to(session, staff, "item"))
    ).first()
    if item is None:
        raise not_found(f"input item {ref}")
    return item


def _detail(session: Session, staff: Staff, item: InputItem) -> dict[str, Any]:
    linked = session.execute(
        select(Decision.slug, DecisionLink.outcome)
        .join(DecisionLink, DecisionLink.decision_id == Decision.id)
        .where(DecisionLink.input_item_id == item.id, visible_decisions(staff))
        .order_by(Decision.id)
    )
    return {
        **serialize.input_items(session, [item])[0],
        "history": serialize.history(session, item.id),
        "decisions": [{"slug": slug, "outcome": outcome} for slug, outcome in linked],
    }


@operation(
    "GET",
    "/input-items/{ref}",
    permission="view",
    summary="One input item with its status history and the decisions it is linked to",
    description=PARTNER_ITEMS,
    params=(ITEM_REF,),
    response=ref("InputItemDetail"),
    tag="input items",
)
async def get_input_item(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/input-items/{ref}."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        return _detail(session, staff, _find(session, staff, args["ref"]))

    return data(await runtime.db.in_transaction(load))


def _checked_change(body: dict[str, Any]) -> dict[str, Any]:
    """The PATCH body's fields with their types checked (400 naming the field)."""
    unknown = sorted(set(body) - PATCH_KEYS)
    if unknown:
        raise bad_request(f"unknown fields {unknown[:5]}; send status with reason, tags, or topic")
    if not body:
        raise bad_request("send status with reason, tags, or topic")
    if "status" in body:
        if body["status"] not in ITEM_STATUSES:
            raise bad_request(f"status must be one of: {', '.join(ITEM_STATUSES)}")
        if not isinstance(body.get("reason"), str) or not body["reason"].strip():
            raise bad_request("a status change needs a reason")
    elif "reason" in body:
        raise bad_request("reason goes with a status change")
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
            raise bad_request("tags must be a list of strings")
        if len(tags) > triage.MAX_TAGS:
            raise bad_request(f"an item has at most {triage.MAX_TAGS} tags")
    if "topic" in body and body["topic"] is not None and not isinstance(body["topic"], str):
        raise bad_request("topic must be a string or null")
    return body


@operation(
    "PATCH",
    "/input-items/{ref}",
    permission="triage",
    summary="Triage an input item: status (with a reason), tags (the full new list) or topic",
    description=PARTNER_ITEMS + " Status moves received -> under_review -> acted_on | not_adopted (an outcome can "
    "go back to under_review); every change is audited and a status change is kept in the item's history.",
    params=(ITEM_REF,),
    body=ref("InputItemChange"),
    response=ref("InputItemDetail"),
    tag="input items",
)
async def patch_input_item(request: Request, args: dict[str, Any]) -> Response:
    """PATCH /api/v1/input-items/{ref}."""
    runtime, staff = runtime_of(request), staff_of(request)
    change = _checked_change(await read_json(request))

    def apply() -> dict[str, Any]:
        now = runtime.clock.now()
        with runtime.db.transaction() as session:
            item = _find(session, staff, args["ref"])
            try:
                if "status" in change and change["status"] != item.status:
                    triage.change_status(session, item, change["status"], change["reason"], staff.actor, now)
                if "tags" in change:
                    wanted = [triage.normalise_tag(tag) for tag in change["tags"]]
                    dropped = [tag for tag in item.tags or [] if tag not in wanted]
                    triage.set_tags(session, item, staff.actor, now, add=wanted, remove=dropped)
                if "topic" in change:
                    triage.set_topic(session, item, change["topic"] or "", staff.actor, now)
            except triage.TriageConflict as exc:
                raise ApiError(409, "conflict", str(exc)) from exc
            except triage.TriageError as exc:
                raise bad_request(str(exc)) from exc
            session.flush()
            return _detail(session, staff, item)

    return data(await runtime.db.run(apply))
