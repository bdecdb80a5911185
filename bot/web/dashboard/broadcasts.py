"""Dashboard pages for broadcasts: compose per language, preview (segments, encoding, cost), send, follow status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.delivery.rules import quiet_until
from bot.engagement.broadcasts import editor as broadcast_editor
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.broadcasts.audiences import AudienceError
from bot.engagement.broadcasts.editor import BroadcastDraft, NotAllowed
from bot.engagement.forms import LANGUAGE_NAMES, LANGUAGES, one_line
from bot.i18n.formatting import format_money
from bot.ids import record_id
from bot.runtime import Runtime, send_rules
from bot.staff import sharing
from bot.store.engagement import Broadcast
from bot.web.dashboard.polls import shown_time, with_notice
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page, local_time, render

OUTBOX_STATUSES = (
    ("pending", "Queued"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("skipped", "Skipped"),
    ("cancelled", "Cancelled"),
)


@page("broadcast")
async def broadcast_list(request: Request) -> Response:
    """GET /dashboard/broadcasts (partners: broadcasts to audiences shared with their organization)."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    zone = runtime.settings.timezone

    def load(session: Session) -> list[dict[str, Any]]:
        visible = sharing.visible_to(session, staff, "broadcast")
        rows = session.scalars(
            select(Broadcast).where(visible).order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
        )
        return [
            {
                "id": row.id,
                "name": row.name,
                "audience": row.audience,
                "urgent": row.urgent,
                "recipients": row.recipients,
                "send_at": shown_time(row.send_at, zone),
            }
            for row in rows
        ]

    rows = await runtime.db.in_transaction(load)
    return render(request, "dashboard/broadcasts.html", title="Broadcasts", broadcasts=rows)


def reach(preview: broadcasts.Preview, send_at: datetime, urgent: bool, runtime: Runtime) -> str:
    """When the broadcast reaches residents, in words: the moment it goes, in the program's zone, and how many get it
    later because it is quiet hours where they are (and until when)."""
    show = local_time(runtime.settings.timezone)
    rules = send_rules(runtime.settings)
    said = f"It goes out {show(send_at)}."
    if urgent or not preview.total:
        return said
    held = [(until, n) for zone, n in preview.zones.items() if (until := quiet_until(send_at, zone, rules))]
    if not held:
        return f"{said} It is not quiet hours for any recipient then: they get it at once (at the sender's pace)."
    count, latest = sum(n for _, n in held), max(until for until, _ in held)
    quiet = f"{rules.quiet_start:%H:%M}-{rules.quiet_end:%H:%M}"
    return (
        f"{said} It is quiet hours ({quiet} in each resident's time) for {count} of the {preview.total} recipients "
        f"then: they get it when their quiet hours end, the last at {show(latest)}."
    )


async def _compose_page(
    request: Request,
    draft: BroadcastDraft,
    *,
    problems: list[str] | None = None,
    preview: broadcasts.Preview | None = None,
    status_code: int = 200,
    template: str = "dashboard/broadcasts_compose.html",
) -> Response:
    runtime = runtime_of(request)
    staff = staff_of(request)
    settings = runtime.settings
    when = broadcast_editor.send_moment(draft.send_at, settings.timezone, runtime.clock.now())

    def load(session: Session) -> dict[str, Any]:
        return {
            "choices": broadcast_editor.helper_choices(session, runtime.clock.now()),
            "shared": broadcast_editor.shared_audiences(session, staff.organization_id) if staff.scoped else [],
        }

    return render(
        request,
        template,
        status_code=status_code,
        title="Confirm the broadcast" if template.endswith("confirm.html") else "New broadcast",
        reach=reach(preview, when, draft.urgent, runtime) if preview is not None else "",
        money=lambda amount: format_money(amount, settings.sms_currency),
        draft=draft,
        problems=problems or [],
        preview=preview,
        may_urgent=staff.role in broadcast_editor.URGENT_ROLES,
        syntax=broadcast_editor.AUDIENCE_SYNTAX,
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        zone=runtime.settings.timezone,
        price=runtime.settings.sms_price_per_segment,
        **await runtime.db.in_transaction(load),
    )


@page("broadcast")
async def compose_form(request: Request) -> Response:
    """GET /dashboard/broadcasts/new (?audience=…&invite=… start a draft, e.g. from a poll's representation)."""
    query = request.query_params
    draft = BroadcastDraft(audience=one_line(query.get("audience", ""), 500), invite=query.get("invite", "")[:80])
    return await _compose_page(request, draft)


@page("broadcast")
async def compose(request: Request) -> Response:
    """POST /dashboard/broadcasts/new: add audience terms, preview, or send (the preview is computed again)."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)
    draft = broadcast_editor.draft_from_form(form)
    action = str(form.get("action") or "preview")
    if action == "add_terms" and not staff.scoped:
        broadcast_editor.add_helper_terms(draft, form)
        return await _compose_page(request, draft)
    settings = runtime.settings

    def work(session: Session) -> tuple[str, Any]:
        now = runtime.clock.now()
        try:
            broadcast_editor.check_allowed(session, draft, staff.role, staff)
        except NotAllowed as exc:
            return "forbidden", str(exc)
        composed, problems = broadcast_editor.compose(session, draft, settings.timezone, now)
        if composed is None:
            return "problems", (problems, None)
        try:
            found = broadcasts.preview(
                session,
                composed.message,
                composed.audience,
                settings.default_locale,
                settings.sms_price_per_segment,
                composed.fallback,
                at=max(composed.send_at, now),
            )
        except AudienceError as exc:
            return "problems", ([f"Audience: {exc}."], None)
        if action != "send" or not form.get("confirmed"):  # sending asks first, on a page that repeats the preview
            return ("confirm" if action == "send" else "preview"), found
        try:
            row, count = broadcasts.send(
                session,
                composed.message,
                composed.audience,
                (composed.send_at, now),
                (settings.default_locale, settings.sms_price_per_segment),
                staff.actor,
                composed.fallback,
            )
        except broadcasts.NotSent as exc:
            return "problems", ([str(exc)], exc.found or found)
        return "sent", (row.id, count, composed.send_at > now)

    outcome, detail = await runtime.db.in_transaction(work)
    if outcome == "forbidden":
        return error_page(request, 403, detail)
    if outcome == "problems":
        problems, found = detail
        return await _compose_page(request, draft, problems=problems, preview=found, status_code=400)
    if outcome in ("preview", "confirm"):
        page_of = {"preview": "dashboard/broadcasts_compose.html", "confirm": "dashboard/broadcasts_confirm.html"}
        return await _compose_page(request, draft, preview=detail, template=page_of[outcome])
    broadcast_id, count, later = detail
    verb = "scheduled" if later else "queued"
    return with_notice(f"/dashboard/broadcasts/{broadcast_id}", f"{count} messages {verb}.")


@page("broadcast")
async def broadcast_page(request: Request) -> Response:
    """GET /dashboard/broadcasts/{id}: what was sent to whom, and what became of each message."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    broadcast_id = record_id(request.path_params["id"])
    if broadcast_id is None:
        return error_page(request, 404, "There is no such broadcast.")

    def load(session: Session) -> dict[str, Any] | None:
        row = session.get(Broadcast, broadcast_id)
        if row is None:
            return None
        if not sharing.may_see(session, staff, "audience", row.audience):
            return {"forbidden": True}
        found = broadcasts.status(session, broadcast_id)
        return {
            "broadcast": {
                "id": row.id,
                "name": row.name,
                "audience": row.audience,
                "urgent": row.urgent,
                "fallback": row.fallback_locale,
                "invite": ", ".join(f"{kind} {slug}" for kind, slug in (row.invite or {}).items()),
                "recipients": row.recipients,
                "send_at": shown_time(row.send_at, runtime.settings.timezone),
                "created": shown_time(row.created_at, runtime.settings.timezone),
                "texts": [(LANGUAGE_NAMES.get(k, k), k, v) for k, v in row.texts.items()],
            },
            "outbox": [(label, found["outbox"].get(key, 0)) for key, label in OUTBOX_STATUSES],
            "reasons": sorted(found["reasons"].items(), key=lambda kv: -kv[1]),
            "delivery": sorted(found["delivery"].items()),
        }

    context = await runtime.db.in_transaction(load)
    if context is None:
        return error_page(request, 404, "There is no such broadcast.")
    if context.get("forbidden"):
        return error_page(request, 403, "This broadcast's audience is not shared with your organization.")
    return render(request, "dashboard/broadcasts_show.html", title=f"Broadcast {broadcast_id}", **context)


ROUTES: list[BaseRoute] = [
    Route("/dashboard/broadcasts", broadcast_list, methods=["GET"]),
    Route("/dashboard/broadcasts/new", compose_form, methods=["GET"]),
    Route("/dashboard/broadcasts/new", compose, methods=["POST"]),
    Route("/dashboard/broadcasts/{id}", broadcast_page, methods=["GET"]),
]
