"""The inbox: every input item with filters, one item's page (status, tags, topic, assignment, reply), bulk, CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.engagement.decisions import publishing as decisions
from bot.engagement.feedback import triage
from bot.engagement.feedback.export import EXPORT_ROWS, PAGE_ROWS, Cursor, items_csv_page
from bot.engagement.feedback.triage import STATUS_LABELS, STATUSES, TriageError
from bot.ids import record_id
from bot.program import Program
from bot.staff.accounts import Staff
from bot.states import DecisionStatus
from bot.store.engagement import Decision, DecisionLink, InputItem, Poll
from bot.store.models import Address
from bot.store.staff import User
from bot.web.dashboard import inbox_media, inbox_query
from bot.web.dashboard.inbox_query import PAGE_SIZE, FilterError, InboxFilter
from bot.web.downloads import csv_pages
from bot.web.guard import Endpoint, read_form, runtime_of, staff_of
from bot.web.guard import page as guard
from bot.web.rendering import PRIVATE_HEADERS, FormError, error_page, render


def _users(session: Session, staff: Staff) -> list[tuple[int, str]]:
    query = select(User.id, User.email).where(User.active.is_(True)).order_by(User.email)
    if staff.scoped:
        query = query.where(User.organization_id == staff.organization_id)
    return [(user_id, email) for user_id, email in session.execute(query)]


def _lookups(session: Session, items: list[InputItem]) -> dict[str, dict[int, str]]:
    poll_ids = {i.poll_id for i in items if i.poll_id}
    user_ids = {i.assigned_to_id for i in items if i.assigned_to_id}
    polls = {pid: slug for pid, slug in session.execute(select(Poll.id, Poll.slug).where(Poll.id.in_(poll_ids)))}
    users = {uid: email for uid, email in session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))}
    return {"polls": polls, "users": users}


@guard("view")
async def inbox(request: Request) -> Response:
    """GET /dashboard/inbox: items newest first, 50 a page, with the filters in the query."""
    return await _show_inbox(request, request.query_params)


async def _show_inbox(
    request: Request, query: QueryParams, problem: FormError | None = None, selected: frozenset[int] = frozenset()
) -> Response:
    """The list with the filters of the query; with a problem, the bulk form again (its selection and what was
    typed) with what is wrong."""
    runtime, staff = runtime_of(request), staff_of(request)
    try:
        chosen = InboxFilter.from_query(query)
    except FilterError as exc:
        return error_page(request, 400, str(exc))
    timezone = runtime.settings.timezone
    due = (runtime.clock.now(), runtime.settings.response_days)

    def load(session: Session) -> dict[str, Any]:
        items = inbox_query.page_of(session, staff, chosen, timezone, due)
        return {
            "items": items,
            "total": inbox_query.count(session, staff, chosen, timezone, due),
            "menus": inbox_query.choices(session, staff),
            **_lookups(session, items),
            "files": inbox_media.file_counts(session, staff, [i.id for i in items]),
        }

    found = await runtime.db.in_transaction(load)
    pages = max(1, -(-found["total"] // PAGE_SIZE))
    return render(
        request,
        "dashboard/inbox.html",
        400 if problem else 200,
        problem=problem,
        selected=selected,
        title="Inbox",
        chosen=chosen,
        pages=pages,
        statuses=STATUSES,
        status_labels=STATUS_LABELS,
        timezone=timezone,
        back="/dashboard/inbox" + (f"?{query}" if str(query) else ""),
        **found,
    )


@guard("export")
async def inbox_csv(request: Request) -> Response:
    """GET /dashboard/inbox.csv: the filtered items (every page), without any address: the resident's id only."""
    runtime, staff = runtime_of(request), staff_of(request)
    try:
        chosen = InboxFilter.from_query(request.query_params)
    except FilterError as exc:
        return error_page(request, 400, str(exc))
    timezone = runtime.settings.timezone
    due = (runtime.clock.now(), runtime.settings.response_days)

    def page(session: Session, after: Cursor | None) -> tuple[str, Cursor | None]:
        return items_csv_page(session, inbox_query.items_query(session, staff, chosen, timezone, due), timezone, after)

    return csv_pages(runtime.db, page, EXPORT_ROWS // PAGE_ROWS, "inbox.csv", PRIVATE_HEADERS)


def _ref(request: Request) -> int:
    return int(request.path_params["ref"])  # within the id columns' range: the `id` convertor matched it


@guard("view")
async def item_page(request: Request) -> Response:
    """GET /dashboard/inbox/{ref}: the whole text, its history, and the forms staff act with."""
    return await _show_item(request)


async def _show_item(request: Request, problem: FormError | None = None) -> Response:
    """The item's page; with a problem, the form that was sent again with what was typed and what is wrong (400)."""
    runtime, staff = runtime_of(request), staff_of(request)
    ref = _ref(request)

    def load(session: Session) -> dict[str, Any] | None:
        item = inbox_query.find_visible(session, staff, ref)
        if item is None:
            return None
        cited = session.execute(
            select(Decision.slug, Decision.title, Decision.status, DecisionLink.outcome)
            .join(DecisionLink, DecisionLink.decision_id == Decision.id)
            .where(DecisionLink.input_item_id == item.id)
            .order_by(Decision.id)
        ).all()
        drafts = (
            session.execute(select(Decision.slug, Decision.title).where(Decision.status == DecisionStatus.DRAFT)).all()
            if staff.can("decide")
            else []
        )
        addresses = (
            session.execute(
                select(Address.channel, Address.value, Address.reachable)
                .where(Address.resident_id == item.resident_id)
                .order_by(Address.id)
            ).all()
            if staff.can("view_numbers") and item.resident_id is not None
            else []
        )
        return {
            "item": item,
            "history": triage.history(session, item),
            "replies": triage.replies(session, item),
            "reply_refusal": triage.reply_refusal(session, item),
            "cited": cited,
            "drafts": drafts,
            "addresses": addresses,
            "assignable": _users(session, staff) if staff.can("triage") else [],
            "files": inbox_media.files_of(session, staff, item),
            **_lookups(session, [item]),
        }

    found = await runtime.db.in_transaction(load)
    if found is None:
        return error_page(request, 404, f"There is no item #{ref} for you.")
    item: InputItem = found["item"]
    return render(
        request,
        "dashboard/inbox_item.html",
        400 if problem else 200,
        problem=problem,
        title=f"Item #{item.ref}",
        statuses=STATUSES,
        status_labels=STATUS_LABELS,
        next_statuses=sorted(triage.TRANSITIONS.get(item.status, frozenset())),
        default_locale=runtime.settings.default_locale,
        **found,
    )


Action = Callable[[Session, InputItem, FormData, Staff, datetime], str]


def _status(session: Session, item: InputItem, form: FormData, staff: Staff, now: datetime) -> str:
    change = triage.change_status(
        session, item, str(form.get("status") or ""), str(form.get("reason") or ""), staff.actor, now
    )
    return f"#{item.ref} is now {STATUS_LABELS[change.to_status].lower()}."


def _tags(session: Session, item: InputItem, form: FormData, staff: Staff, now: datetime) -> str:
    added = triage.parse_tags(str(form.get("add") or ""))
    removed = [str(tag) for tag in form.getlist("remove")]
    tags = triage.set_tags(session, item, staff.actor, now, add=added, remove=removed)
    return f"Tags of #{item.ref}: {', '.join(tags) or 'none'}."


def _topic(session: Session, item: InputItem, form: FormData, staff: Staff, now: datetime) -> str:
    triage.set_topic(session, item, str(form.get("topic") or ""), staff.actor, now)
    return f"Topic of #{item.ref}: {item.topic or 'none'}."


def _assign(session: Session, item: InputItem, form: FormData, staff: Staff, now: datetime) -> str:
    raw = str(form.get("user") or "")
    user_id = record_id(raw) if raw else None
    if raw and user_id is None:
        raise TriageError("Choose a user from the list.")
    if user_id is not None and user_id not in {uid for uid, _email in _users(session, staff)}:
        raise TriageError("Choose a user from the list.")
    triage.assign(session, item, user_id, staff.actor, now)
    return f"#{item.ref} is assigned." if user_id else f"#{item.ref} is assigned to nobody."


def _publishable(session: Session, item: InputItem, form: FormData, staff: Staff, now: datetime) -> str:
    publishable = form.get("publishable") in ("1", "on", "yes")
    triage.set_publishable(session, item, publishable, staff.actor, now)
    return f"#{item.ref} {'may' if publishable else 'may not'} be quoted on the public page."


def _link(session: Session, item: InputItem, form: FormData, staff: Staff, now: datetime) -> str:
    decision = decisions.find(session, str(form.get("decision") or ""))
    decisions.link_item(session, decision, item.ref, str(form.get("outcome") or ""), staff.actor, now)
    return f"#{item.ref} is linked to the decision {decision.slug}."


ACTIONS: dict[str, tuple[str, Action]] = {  # name in the path: (permission, what it does)
    "status": ("triage", _status),
    "tags": ("triage", _tags),
    "topic": ("triage", _topic),
    "assign": ("triage", _assign),
    "publishable": ("triage", _publishable),
    "link": ("decide", _link),
}


def _done(ref: int, message: str) -> Response:
    return RedirectResponse(f"/dashboard/inbox/{ref}?{urlencode({'done': message})}", status_code=303)


def item_action(name: str, permission: str, action: Action) -> Endpoint:
    """POST /dashboard/inbox/{ref}/<name>: one change to the item, for those whose role allows it."""

    async def act_on_item(request: Request) -> Response:
        runtime, staff = runtime_of(request), staff_of(request)
        ref = _ref(request)
        form = await read_form(request)

        def act(session: Session) -> str | None:
            item = inbox_query.find_visible(session, staff, ref)
            if item is None:
                return None
            return action(session, item, form, staff, runtime.clock.now())

        try:
            message = await runtime.db.in_transaction(act)
        except (TriageError, decisions.DecisionError) as exc:
            return await _show_item(request, FormError.of(name, str(exc), form))
        if message is None:
            return error_page(request, 404, f"There is no item #{ref} for you.")
        return _done(ref, message)

    act_on_item.__name__ = act_on_item.__qualname__ = f"item_{name}"
    act_on_item.__doc__ = f"POST /dashboard/inbox/{{ref}}/{name} (permission {permission})."
    return guard(permission)(act_on_item)


@guard("reply")
async def item_reply(request: Request) -> Response:
    """POST /dashboard/inbox/{ref}/reply: a reply to the resident, queued in the outbox (consent, quiet hours)."""
    runtime, staff = runtime_of(request), staff_of(request)
    ref = _ref(request)
    form = await read_form(request)
    program = Program.of(runtime.settings)

    def act(session: Session) -> str | None:
        item = inbox_query.find_visible(session, staff, ref)
        if item is None:
            return None
        queued = triage.reply(session, item, str(form.get("text") or ""), program, staff.actor, runtime.clock.now())
        return f"Your reply to #{ref} is queued on {queued.channel}."

    try:
        message = await runtime.db.in_transaction(act)
    except TriageError as exc:
        return await _show_item(request, FormError.of("reply", str(exc), form))
    if message is None:
        return error_page(request, 404, f"There is no item #{ref} for you.")
    runtime.wake_worker()
    return _done(ref, message)


@guard("triage")
async def bulk(request: Request) -> Response:
    """POST /dashboard/inbox/bulk: add a tag to, or set the status (with a reason) of, the selected items."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    given = [str(r) for r in form.getlist("ref")]
    refs = sorted({ref for ref in map(record_id, given) if ref is not None})
    action = str(form.get("action") or "")
    status, reason = str(form.get("status") or ""), str(form.get("reason") or "")
    try:
        if not refs:
            raise TriageError("Select at least one item.")
        if action == "tag":
            tags = triage.parse_tags(str(form.get("tag") or ""))
            if not tags:
                raise TriageError("Type the tag to add.")
        elif action == "status":
            if status not in STATUSES:
                raise TriageError("Choose the status to set.")
            reason = triage.check_reason(reason)
        else:
            raise TriageError("Choose what to do with the selected items.")
    except TriageError as exc:  # the list again, the selection kept, what was typed and what is wrong beside it
        back = urlsplit(_back_with(str(form.get("back") or ""), "")).query
        query = QueryParams([(k, v) for k, v in parse_qsl(back) if k != "done"])
        return await _show_inbox(request, query, FormError.of("bulk", str(exc), form), frozenset(refs))

    def act() -> tuple[int, list[str]]:
        done, skipped = 0, []
        now = runtime.clock.now()
        with runtime.db.transaction() as session:
            for ref in refs:
                item = inbox_query.find_visible(session, staff, ref)
                if item is None:
                    skipped.append(f"#{ref}: not found")
                    continue
                try:
                    with session.begin_nested():
                        if action == "tag":
                            triage.set_tags(session, item, staff.actor, now, add=tags)
                        else:
                            triage.change_status(session, item, status, reason, staff.actor, now)
                    done += 1
                except TriageError as exc:
                    skipped.append(str(exc))
        return done, skipped

    done, skipped = await runtime.db.run(act)
    message = f"{done} of {len(refs)} items changed."
    if skipped:
        message = f"{message} Not changed: {'; '.join(skipped)}"[:190]
    return RedirectResponse(_back_with(str(form.get("back") or ""), message), status_code=303)


def _back_with(raw: str, message: str) -> str:
    """The list page the bulk form came from (never another site), with the outcome as a notice."""
    parts = urlsplit(raw)
    path = (
        parts.path if parts.path == "/dashboard/inbox" and not parts.netloc and not parts.scheme else "/dashboard/inbox"
    )
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "done"] + [("done", message)]
    return f"{path}?{urlencode(query)}"


ROUTES: list[BaseRoute] = [
    Route("/dashboard/inbox", inbox, methods=["GET"]),
    Route("/dashboard/inbox.csv", inbox_csv, methods=["GET"]),
    Route("/dashboard/inbox/bulk", bulk, methods=["POST"]),
    Route("/dashboard/inbox/{ref:id}", item_page, methods=["GET"]),
    Route("/dashboard/inbox/{ref:id}/reply", item_reply, methods=["POST"]),
    *(
        Route(f"/dashboard/inbox/{{ref:id}}/{name}", item_action(name, permission, action), methods=["POST"])
        for name, (permission, action) in ACTIONS.items()
    ),
    *inbox_media.ROUTES,
]
