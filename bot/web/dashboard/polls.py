"""Dashboard pages for polls: list, create and edit per language, open and close, live results, CSV, sharing."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.engagement.compensation import offers
from bot.engagement.forms import LANGUAGE_NAMES, LANGUAGES
from bot.engagement.polls import checks as poll_checks
from bot.engagement.polls import definition as poll_store
from bot.engagement.polls import editor as poll_editor
from bot.engagement.polls import report as poll_report
from bot.engagement.polls.editor import PollDraft
from bot.engagement.polls.tally import QuestionResult, as_csv
from bot.engagement.weighting import weightable
from bot.i18n.negotiation import pick_text
from bot.ids import record_id
from bot.staff import audit, sharing
from bot.staff.accounts import Staff
from bot.store.engagement import Poll
from bot.store.staff import Organization, Share
from bot.web.dashboard import co_owners_view
from bot.web.dashboard.charts import bar_chart
from bot.web.dashboard.representation_view import representation_panel
from bot.web.downloads import csv_download
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import PRIVATE_HEADERS, error_page, local_time, render

DIMENSIONS = {"locale": "Language", "area": "Area", "channel": "Channel"}
STATUS_ACTIONS = {"open": "poll.open", "closed": "poll.close"}


def shown_time(moment: datetime | None, zone: str) -> str:
    """A stored (UTC) time as staff read it, in the program's time zone."""
    return local_time(zone)(moment)


def with_notice(path: str, notice: str) -> RedirectResponse:
    """303 to a page that shows a notice (after a successful POST)."""
    return RedirectResponse(f"{path}?done={quote(notice)}", status_code=303)


def may_see(session: Session, staff: Staff, slug: str) -> bool:
    """Partners see only the polls shared with their organization; everyone else sees every poll."""
    return sharing.may_see(session, staff, "poll", slug)


@page("view")
async def poll_list(request: Request) -> Response:
    """GET /dashboard/polls."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    zone, locale = runtime.settings.timezone, runtime.settings.default_locale

    def load(session: Session) -> list[dict[str, Any]]:
        query = select(Poll).where(sharing.visible_to(session, staff, "poll"))
        query = query.order_by(Poll.created_at.desc(), Poll.id.desc())
        counts = poll_report.respondents_by_poll(session)
        return [
            {
                "slug": poll.slug,
                "title": pick_text(poll.title, locale),
                "status": poll.status,
                "respondents": counts.get(poll.id, 0),
                "opened": shown_time(poll.opened_at, zone),
                "closed": shown_time(poll.closed_at, zone),
            }
            for poll in session.scalars(query)
        ]

    rows = await runtime.db.in_transaction(load)
    return render(request, "dashboard/polls.html", title="Polls", polls=rows)


def _form_page(
    request: Request, draft: PollDraft, *, new: bool, problems: list[str] | None = None, status_code: int = 200
) -> Response:
    runtime = runtime_of(request)
    document = poll_editor.to_document(draft, runtime.settings.default_locale)
    return render(
        request,
        "dashboard/polls_form.html",
        status_code=status_code,
        title="New poll" if new else f"Edit poll {draft.slug}",
        draft=draft,
        new=new,
        problems=problems or [],
        missing=poll_checks.missing_translations(document),
        fallback=poll_editor.effective_fallback(draft, runtime.settings.default_locale),
        kinds=poll_editor.KIND_NAMES,
        choice_kinds=poll_editor.CHOICE_KINDS,
        languages=LANGUAGES,
        language_names=LANGUAGE_NAMES,
        action="/dashboard/polls/new" if new else f"/dashboard/polls/{draft.slug}/edit",
    )


async def _submit(request: Request, slug: str | None) -> Response:
    """Save the poll form, or grow it (add a question or an option) and show it again with what was typed."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    form = await read_form(request)
    draft = poll_editor.draft_from_form(form)
    if slug is not None:
        draft.slug = slug
    if poll_editor.apply_action(draft, str(form.get("action") or "save")):
        return _form_page(request, draft, new=slug is None)

    def save(session: Session) -> tuple[list[str], int]:
        problems = poll_checks.check(session, draft, runtime.settings.default_locale, new=slug is None)
        if problems:
            return problems, 0
        poll, version = poll_editor.save(session, draft, runtime.settings.default_locale, runtime.flows, runtime.clock)
        audit.record(
            session,
            staff.actor,
            "poll.create" if slug is None else "poll.update",
            f"poll:{poll.slug}",
            runtime.clock.now(),
            version=version,
            status=poll.status,
            languages=sorted(draft.title),
            area_results=draft.area_results,
        )
        return [], version

    problems, version = await runtime.db.in_transaction(save)
    if problems:
        return _form_page(request, draft, new=slug is None, problems=problems, status_code=400)
    return with_notice(f"/dashboard/polls/{draft.slug}", f"Poll saved (questions version {version}).")


@page("content")
async def new_poll_form(request: Request) -> Response:
    """GET /dashboard/polls/new."""
    return _form_page(request, PollDraft(), new=True)


@page("content")
async def new_poll(request: Request) -> Response:
    """POST /dashboard/polls/new."""
    return await _submit(request, None)


@page("content")
async def edit_poll_form(request: Request) -> Response:
    """GET /dashboard/polls/{slug}/edit."""
    runtime = runtime_of(request)
    slug = request.path_params["slug"]

    def load(session: Session) -> PollDraft | None:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
        if poll is None:
            return None
        document = poll.document
        if document is None:  # stored before documents were kept: rebuilt from its questions
            flow = poll_report.latest_flow(session, runtime.flows, poll.slug)
            document = poll_editor.document_from_flow(poll, flow) if flow else {"slug": poll.slug}
        return poll_editor.draft_from_document(document, poll.area_results)

    draft = await runtime.db.in_transaction(load)
    if draft is None:
        return error_page(request, 404, f"There is no poll {slug!r}.")
    return _form_page(request, draft, new=False)


@page("content")
async def edit_poll(request: Request) -> Response:
    """POST /dashboard/polls/{slug}/edit."""
    runtime = runtime_of(request)
    slug = request.path_params["slug"]

    def exists(session: Session) -> bool:
        return session.scalars(select(Poll.id).where(Poll.slug == slug)).first() is not None

    if not await runtime.db.in_transaction(exists):
        return error_page(request, 404, f"There is no poll {slug!r}.")
    return await _submit(request, slug)


def _breakdown(result: QuestionResult, sizes: dict[str, dict[str, int]], dimension: str) -> dict[str, Any]:
    groups = result.by.get(dimension, {})
    rows = [
        {
            "group": LANGUAGE_NAMES.get(group, group) if dimension == "locale" else group,
            "respondents": sizes.get(dimension, {}).get(group, 0),
            "cells": [(option.count, option.percent) for option in options],
        }
        for group, options in groups.items()
    ]
    return {"dimension": dimension, "name": DIMENSIONS[dimension], "rows": rows}


def _question_view(result: QuestionResult, sizes: dict[str, dict[str, int]], number: int) -> dict[str, Any]:
    view: dict[str, Any] = {"result": result, "number": number, "is_text": result.kind == "ask-text"}
    if not view["is_text"]:
        view["chart"] = bar_chart(
            f"chart-{result.question}",
            f"Question {number}: {result.text}",
            [(option.label, option.percent) for option in result.options],
            maximum=100.0,
            description=f"Share of the {result.respondents} respondents choosing each answer.",
        )
        view["breakdowns"] = [_breakdown(result, sizes, dimension) for dimension in DIMENSIONS]
    return view


@page("view")
async def poll_page(request: Request) -> Response:
    """GET /dashboard/polls/{slug}: status, missing translations, live results, sharing."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    slug = request.path_params["slug"]
    zone, locale = runtime.settings.timezone, runtime.settings.default_locale

    def load(session: Session) -> dict[str, Any] | None:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
        if poll is None:
            return None
        if not may_see(session, staff, slug):
            return {"forbidden": True}
        found = poll_report.report(session, runtime.flows, poll)
        missing = poll_checks.missing_translations(poll.document or {})
        context: dict[str, Any] = {
            "poll": {
                "slug": poll.slug,
                "title": pick_text(poll.title, locale),
                "status": poll.status,
                "area_results": poll.area_results,
                "created": shown_time(poll.created_at, zone),
                "opened": shown_time(poll.opened_at, zone),
                "closed": shown_time(poll.closed_at, zone),
                "keywords": [(LANGUAGE_NAMES.get(k, k), v) for k, v in (poll.keywords or {}).items()],
            },
            "respondents": found.respondents,
            "questions": [
                _question_view(result, found.group_sizes.get(result.question, {}), number)
                for number, result in enumerate(found.questions, 1)
            ],
            "missing": missing,
            "missing_by_language": poll_checks.missing_by_language(missing),
            "fallback": (poll.document or {}).get("fallback_language") or locale,
            "representation": representation_panel(session, poll),
            "weighting_available": bool(weightable(session, poll)),
            "compensation": offers.describe(offers.offer_of(session, poll_id=poll.id)),
            **co_owners_view.panel(session, "poll", poll.slug),
        }
        if staff.can("content"):
            shared_ids = set(
                session.scalars(select(Share.organization_id).where(Share.kind == "poll", Share.subject == poll.slug))
            )
            organizations = list(session.scalars(select(Organization).order_by(Organization.name)))
            context["shared"] = [(o.id, o.name) for o in organizations if o.id in shared_ids]
            context["unshared"] = [(o.id, o.name) for o in organizations if o.id not in shared_ids]
        return context

    context = await runtime.db.in_transaction(load)
    if context is None:
        return error_page(request, 404, f"There is no poll {slug!r}.")
    if context.get("forbidden"):
        return error_page(request, 403, "This poll is not shared with your organization.")
    return render(request, "dashboard/polls_show.html", title=f"Poll {slug}", language_names=LANGUAGE_NAMES, **context)


@page("content")
async def change_status(request: Request) -> Response:
    """POST /dashboard/polls/{slug}/status: open, close or reopen (audited)."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    slug = request.path_params["slug"]
    status = str((await read_form(request)).get("status") or "")
    if status not in STATUS_ACTIONS:
        return error_page(request, 400, "Choose open or closed.", title="Bad request")

    def change(session: Session) -> str | None:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
        if poll is None:
            return None
        before = poll.status
        now = runtime.clock.now()
        poll_store.set_status(session, slug, status, now)
        missing = poll_checks.missing_by_language(poll_checks.missing_translations(poll.document or {}))
        audit.record(
            session,
            staff.actor,
            STATUS_ACTIONS[status],
            f"poll:{slug}",
            now,
            previous=before,
            languages_missing=sorted(missing),
        )
        return before

    before = await runtime.db.in_transaction(change)
    if before is None:
        return error_page(request, 404, f"There is no poll {slug!r}.")
    said = {"open": "reopened" if before == "closed" else "opened", "closed": "closed"}[status]
    return with_notice(f"/dashboard/polls/{slug}", f"Poll {said}.")


async def _sharing(request: Request, share: bool) -> Response:
    runtime = runtime_of(request)
    staff = staff_of(request)
    slug = request.path_params["slug"]
    raw = str((await read_form(request)).get("organization_id") or "")

    def change(session: Session) -> str | None:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
        chosen = record_id(raw)
        organization = session.get(Organization, chosen) if chosen is not None else None
        if poll is None or organization is None:
            return None
        now = runtime.clock.now()
        if share:
            sharing.share(session, organization.id, "poll", slug, now)
        else:
            sharing.unshare(session, organization.id, "poll", slug)
        action = "poll.share" if share else "poll.unshare"
        audit.record(session, staff.actor, action, f"poll:{slug}", now, organization=organization.slug)
        return organization.name

    name = await runtime.db.in_transaction(change)
    if name is None:
        return error_page(request, 400, "Choose an organization and a poll that exist.", title="Bad request")
    said = f"Shared with {name}." if share else f"No longer shared with {name}."
    return with_notice(f"/dashboard/polls/{slug}", said)


@page("content")
async def share_poll(request: Request) -> Response:
    """POST /dashboard/polls/{slug}/share (staff and admins)."""
    return await _sharing(request, True)


@page("content")
async def unshare_poll(request: Request) -> Response:
    """POST /dashboard/polls/{slug}/unshare (staff and admins)."""
    return await _sharing(request, False)


@page("export")
async def results_csv(request: Request) -> Response:
    """GET /dashboard/polls/{slug}/results.csv (partners: shared polls only)."""
    runtime = runtime_of(request)
    staff = staff_of(request)
    slug = request.path_params["slug"]

    def load(session: Session) -> str | bool | None:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
        if poll is None:
            return None
        if not may_see(session, staff, slug):
            return False
        return as_csv(poll_report.report(session, runtime.flows, poll).questions)

    found = await runtime.db.in_transaction(load)
    if found is None:
        return error_page(request, 404, f"There is no poll {slug!r}.")
    if found is False:
        return error_page(request, 403, "This poll is not shared with your organization.")
    return csv_download(str(found), f"{slug}-results.csv", PRIVATE_HEADERS)


ROUTES: list[BaseRoute] = [
    Route("/dashboard/polls", poll_list, methods=["GET"]),
    Route("/dashboard/polls/new", new_poll_form, methods=["GET"]),
    Route("/dashboard/polls/new", new_poll, methods=["POST"]),
    Route("/dashboard/polls/{slug}", poll_page, methods=["GET"]),
    Route("/dashboard/polls/{slug}/edit", edit_poll_form, methods=["GET"]),
    Route("/dashboard/polls/{slug}/edit", edit_poll, methods=["POST"]),
    Route("/dashboard/polls/{slug}/status", change_status, methods=["POST"]),
    Route("/dashboard/polls/{slug}/share", share_poll, methods=["POST"]),
    Route("/dashboard/polls/{slug}/unshare", unshare_poll, methods=["POST"]),
    Route("/dashboard/polls/{slug}/results.csv", results_csv, methods=["GET"]),
]
