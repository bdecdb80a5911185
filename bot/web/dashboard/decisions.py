"""Decisions in the dashboard: write one per language, link the input behind it, preview the notices, publish."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.channels.segments import analyse
from bot.engagement.decisions import co_decision, notices, progress
from bot.engagement.decisions import publishing as decisions
from bot.engagement.decisions.publishing import DecisionError, DecisionFields, NotSignedOff
from bot.engagement.feedback.triage import STATUS_LABELS, TriageError
from bot.engagement.forms import LANGUAGE_NAMES
from bot.i18n.negotiation import NATIVE_NAMES, SUPPORTED_LOCALES, pick_text, text_direction
from bot.ids import record_id
from bot.program import Program
from bot.runtime import Runtime
from bot.staff import sharing
from bot.staff.accounts import Staff
from bot.states import DecisionStatus, ItemStatus
from bot.store.engagement import Decision, DecisionLink, InputItem, Poll
from bot.store.staff import Share
from bot.web.dashboard import co_decision_view
from bot.web.dashboard.inbox_query import find_visible
from bot.web.guard import Endpoint, page, read_form, runtime_of, staff_of
from bot.web.rendering import FormError, error_page, render

MAX_REFS_AT_ONCE = 100


def program_of(runtime: Runtime) -> Program:
    """The program as decision notices name it."""
    settings = runtime.settings
    return Program.of(settings)


def _visible(staff: Staff) -> ColumnElement[bool]:
    """Drafts are for the people who decide, and for the partners who co-own them (to sign them off); everyone who
    may view sees published decisions."""
    if staff.can("decide"):
        return true()
    mine = Share.organization_id == staff.organization_id
    co_owned = select(Share.subject).where(Share.kind == co_decision.KIND, mine)
    published = Decision.status == DecisionStatus.PUBLISHED
    return or_(published, Decision.slug.in_(co_owned)) if staff.scoped else published


def _fields(form: FormData) -> DecisionFields:
    texts = {
        name: {locale: str(form.get(f"{name}_{locale}") or "") for locale in SUPPORTED_LOCALES}
        for name in decisions.TEXT_FIELDS
    }
    partners = [p for p in re.split(r"[,\n]", str(form.get("partners") or ""))]
    return DecisionFields(texts, str(form.get("decided_by") or ""), partners, str(form.get("slug") or ""))


def _languages(runtime: Runtime) -> list[tuple[str, str, str]]:
    default = runtime.settings.default_locale
    ordered = [default, *(loc for loc in SUPPORTED_LOCALES if loc != default)]
    return [(loc, NATIVE_NAMES[loc], text_direction(loc)) for loc in ordered]


@page("view")
async def decision_list(request: Request) -> Response:
    """GET /dashboard/decisions: title, status, published date and the number of contributions behind each."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> list[dict[str, Any]]:
        rows = session.scalars(
            select(Decision).where(_visible(staff)).order_by(Decision.status, Decision.updated_at.desc())
        ).all()
        counts = decisions.contributions_of(session, rows)
        return [{"decision": row, "contributions": counts[row.id]} for row in rows]

    found = await runtime.db.in_transaction(load)
    return render(
        request,
        "dashboard/decisions.html",
        title="Decisions",
        rows=found,
        default_locale=runtime.settings.default_locale,
    )


@page("decide")
async def new_form(request: Request) -> Response:
    """GET /dashboard/decisions/new."""
    runtime = runtime_of(request)
    return render(
        request, "dashboard/decisions_new.html", title="New decision", languages=_languages(runtime), values={}
    )


@page("decide")
async def create(request: Request) -> Response:
    """POST /dashboard/decisions/new: a draft, then its page to link input."""
    runtime, staff = runtime_of(request), staff_of(request)
    form = await read_form(request)

    def act(session: Session) -> str:
        decision = decisions.create(
            session, _fields(form), runtime.settings.default_locale, staff.actor, runtime.clock.now()
        )
        return decision.slug

    try:
        slug = await runtime.db.in_transaction(act)
    except DecisionError as exc:
        return render(
            request,
            "dashboard/decisions_new.html",
            status_code=400,
            title="New decision",
            languages=_languages(runtime),
            values={k: str(v) for k, v in form.items() if k != "csrf_token"},
            error=str(exc),
        )
    return RedirectResponse(f"/dashboard/decisions/{slug}?{urlencode({'done': 'Draft saved.'})}", status_code=303)


def _preview(decision: Decision, program: Program) -> list[dict[str, Any]]:
    rows = []
    for locale in SUPPORTED_LOCALES:
        text = notices.notice_text(decision, locale, program)
        cost = analyse(text)
        rows.append(
            {
                "locale": locale,
                "name": LANGUAGE_NAMES[locale],
                "dir": text_direction(locale),
                "text": text,
                "segments": cost.segments,
                "encoding": cost.encoding,
                "fallback": not decision.summary.get(locale),
            }
        )
    return rows


def _details(session: Session, staff: Staff, decision: Decision, program: Program) -> dict[str, Any]:
    linked = decisions.linked_items(session, decision)
    visible = {item.id for item, _ in linked}
    if staff.scoped and visible:  # partners see only the items shared with them: one query for all of them
        links = select(DecisionLink.input_item_id).where(DecisionLink.decision_id == decision.id)
        shared = select(InputItem.id).where(InputItem.id.in_(links), sharing.visible_to(session, staff, "item"))
        visible = set(session.scalars(shared))
    polls = decisions.linked_polls(session, decision)
    linked_ids = {p.id for p in polls}
    other_polls = [
        slug for pid, slug in session.execute(select(Poll.id, Poll.slug).order_by(Poll.slug)) if pid not in linked_ids
    ]
    return {
        "decision": decision,
        "items": [(item, outcome) for item, outcome in linked if item.id in visible],
        "hidden_items": len(linked) - len(visible),
        "polls": polls,
        "other_polls": other_polls,
        "contributions": decisions.contributions(session, decision),
        "missing": decisions.missing_languages(decision),
        "preview": _preview(decision, program),
        "timeline": progress.timeline(session, decision),
        "moves": sorted(progress.MOVES.get(decision.stage or "", ())),
        "check_backs": progress.check_backs(session, [decision.id]).get(decision.id),
        **co_decision_view.panel(session, decision),
    }


def _slug(request: Request) -> str:
    return str(request.path_params["slug"])[:64]


@page("view")
async def detail(request: Request) -> Response:
    """GET /dashboard/decisions/{slug}: the decision, its input, the notices' preview; forms while it is a draft."""
    return await _show_decision(request)


async def _show_decision(request: Request, problem: FormError | None = None) -> Response:
    """The decision's page; with a problem, the form that was sent again with what was typed and what is wrong."""
    runtime, staff = runtime_of(request), staff_of(request)
    slug = _slug(request)
    program = program_of(runtime)

    def load(session: Session) -> dict[str, Any] | None:
        decision = session.scalars(select(Decision).where(Decision.slug == slug, _visible(staff))).first()
        return None if decision is None else _details(session, staff, decision, program)

    found = await runtime.db.in_transaction(load)
    if found is None:
        return error_page(request, 404, f"There is no decision {slug!r}.")
    decision: Decision = found["decision"]
    return render(
        request,
        "dashboard/decisions_detail.html",
        400 if problem else 200,
        problem=problem,
        title=pick_text(decision.title, program.default_locale),
        languages=_languages(runtime),
        status_labels=STATUS_LABELS,
        editable=decision.status == DecisionStatus.DRAFT and staff.can("decide"),
        public_url=f"/public/decisions/{decision.slug}",
        **found,
    )


Change = Callable[[Session, Decision, FormData, Staff, Runtime], str]


def _edit(session: Session, decision: Decision, form: FormData, staff: Staff, runtime: Runtime) -> str:
    decisions.edit(session, decision, _fields(form), runtime.settings.default_locale, staff.actor, runtime.clock.now())
    return "Draft saved."


def _refs(raw: str) -> list[int]:
    refs = [record_id(word) for word in re.split(r"[\s,;]+", raw) if word.strip()]
    if not refs or None in refs:
        raise DecisionError("Give item references as numbers, e.g. 4821 or 4821, 5532.")
    if len(refs) > MAX_REFS_AT_ONCE:
        raise DecisionError(f"Link at most {MAX_REFS_AT_ONCE} items at once.")
    return list(dict.fromkeys(ref for ref in refs if ref is not None))


def _link_items(session: Session, decision: Decision, form: FormData, staff: Staff, runtime: Runtime) -> str:
    outcome = str(form.get("outcome") or ItemStatus.ACTED_ON)
    refs = _refs(str(form.get("refs") or ""))
    for ref in refs:
        if find_visible(session, staff, ref) is None:
            raise DecisionError(f"There is no item #{ref}.")
        decisions.link_item(session, decision, ref, outcome, staff.actor, runtime.clock.now())
    return f"Linked {', '.join(f'#{r}' for r in refs)}."


def _outcomes(session: Session, decision: Decision, form: FormData, staff: Staff, runtime: Runtime) -> str:
    changed = 0
    for item, outcome in decisions.linked_items(session, decision):
        wanted = str(form.get(f"outcome_{item.ref}") or outcome)
        if wanted != outcome:
            decisions.link_item(session, decision, item.ref, wanted, staff.actor, runtime.clock.now())
            changed += 1
    return f"{changed} outcome{'' if changed == 1 else 's'} changed."


def _unlink(session: Session, decision: Decision, form: FormData, staff: Staff, runtime: Runtime) -> str:
    ref, poll = record_id(str(form.get("ref") or "")), str(form.get("poll") or "")
    if ref is not None:
        decisions.unlink(session, decision, staff.actor, runtime.clock.now(), ref=ref)
        return f"#{ref} is no longer linked."
    decisions.unlink(session, decision, staff.actor, runtime.clock.now(), poll=poll or None)
    return f"The poll {poll} is no longer linked."


def _link_poll(session: Session, decision: Decision, form: FormData, staff: Staff, runtime: Runtime) -> str:
    slug = str(form.get("poll") or "")
    decisions.link_poll(session, decision, slug, staff.actor, runtime.clock.now())
    return f"The poll {slug} is linked: its respondents will be told too."


CHANGES: dict[str, Change] = {
    "edit": _edit,
    "items": _link_items,
    "outcomes": _outcomes,
    "unlink": _unlink,
    "polls": _link_poll,
}


def change(name: str, apply: Change) -> Endpoint:
    """POST /dashboard/decisions/{slug}/<name>: one change to a draft (edit, link or unlink, outcomes)."""

    async def change_decision(request: Request) -> Response:
        runtime, staff = runtime_of(request), staff_of(request)
        slug = _slug(request)
        form = await read_form(request)

        def act(session: Session) -> str:
            return apply(session, decisions.find(session, slug), form, staff, runtime)

        try:
            message = await runtime.db.in_transaction(act)
        except (DecisionError, TriageError) as exc:
            return await _show_decision(request, FormError.of(name, str(exc), form))
        return RedirectResponse(f"/dashboard/decisions/{quote(slug)}?{urlencode({'done': message})}", status_code=303)

    change_decision.__name__ = change_decision.__qualname__ = f"decision_{name}"
    change_decision.__doc__ = f"POST /dashboard/decisions/{{slug}}/{name}."
    return page("decide")(change_decision)


@page("decide")
async def confirm(request: Request) -> Response:
    """GET /dashboard/decisions/{slug}/publish: who will be told, on which channels, before publishing."""
    runtime = runtime_of(request)
    slug = _slug(request)
    program = program_of(runtime)

    def load(session: Session) -> dict[str, Any] | None:
        decision = session.scalars(select(Decision).where(Decision.slug == slug)).first()
        if decision is None:
            return None
        found = notices.recipients(session, decision, program.default_locale)
        return {
            "decision": decision,
            "total": len(found),
            "audience": notices.audience_summary(found),
            "items": len(decisions.linked_items(session, decision)),
            "missing": decisions.missing_languages(decision),
        }

    found = await runtime.db.in_transaction(load)
    if found is None:
        return error_page(request, 404, f"There is no decision {slug!r}.")
    return render(
        request,
        "dashboard/decisions_publish.html",
        title="Publish " + pick_text(found["decision"].title, program.default_locale),
        names=LANGUAGE_NAMES,
        without_link=program.public_url is None,
        **found,
    )


@page("decide")
async def publish(request: Request) -> Response:
    """POST /dashboard/decisions/{slug}/publish: once; publishing again changes nothing and tells no one twice."""
    runtime, staff = runtime_of(request), staff_of(request)
    slug = _slug(request)
    program = program_of(runtime)

    def act(session: Session) -> decisions.Published:
        decision = decisions.find(session, slug)
        return decisions.publish(session, decision, program, runtime.flows, staff.actor, runtime.clock.now())

    try:
        done = await runtime.db.in_transaction(act)
    except NotSignedOff as exc:
        return error_page(request, 409, str(exc), title="Not yet")
    except DecisionError as exc:
        return error_page(request, 404, str(exc))
    if done.already:
        message = "This decision was already published: no one was told again."
    else:
        runtime.wake_worker()
        items = "item" if done.moved == 1 else "items"
        residents = "resident" if done.notified == 1 else "residents"
        message = f"Published. {done.moved} {items} moved to their outcome; {done.notified} {residents} will be told."
    return RedirectResponse(f"/dashboard/decisions/{quote(slug)}?{urlencode({'done': message})}", status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/dashboard/decisions", decision_list, methods=["GET"]),
    Route("/dashboard/decisions/new", new_form, methods=["GET"]),
    Route("/dashboard/decisions/new", create, methods=["POST"]),
    Route("/dashboard/decisions/{slug:str}", detail, methods=["GET"]),
    Route("/dashboard/decisions/{slug:str}/publish", confirm, methods=["GET"]),
    Route("/dashboard/decisions/{slug:str}/publish", publish, methods=["POST"]),
    *(
        Route(f"/dashboard/decisions/{{slug:str}}/{name}", change(name, apply), methods=["POST"])
        for name, apply in CHANGES.items()
    ),
]
