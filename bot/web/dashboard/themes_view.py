"""The Themes page: what residents say, grouped offline into themes (served from the last computation; staff compute
again with a button), each with its keywords, residents, languages and areas; staff name, confirm and merge themes
(audited), and open one to read its items."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement import proposals
from bot.engagement.decisions import publishing as decisions
from bot.engagement.forms import LANGUAGE_NAMES
from bot.engagement.themes import stored
from bot.i18n.negotiation import pick_text
from bot.ids import MAX_RECORD_ID, plain_number
from bot.staff import audit, sharing
from bot.states import DecisionStatus
from bot.store.engagement import Decision
from bot.store.themes import Theme
from bot.web.dashboard.polls import with_notice
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page, render


@page("triage")
async def themes_page(request: Request) -> Response:
    """GET /dashboard/themes (partners: of the items shared with them)."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> list[stored.Shown]:
        return stored.listing(session, sharing.visible_to(session, staff, "item"))

    rows = await runtime.db.in_transaction(load)
    return render(request, "dashboard/themes.html", title="Themes", themes=rows, language_names=LANGUAGE_NAMES)


@page("triage")
async def theme_page(request: Request) -> Response:
    """GET /dashboard/themes/{id}: one theme's items."""
    runtime, staff = runtime_of(request), staff_of(request)
    theme_id = int(request.path_params["id"])

    def load(session: Session) -> dict[str, Any] | None:
        visible = sharing.visible_to(session, staff, "item")
        every = stored.listing(session, visible)
        shown = next((t for t in every if t.id == theme_id), None)
        if shown is None:
            return None
        others = [t for t in every if t.id != theme_id]
        drafts = [
            (d.slug, pick_text(d.title, runtime.settings.default_locale) or d.slug)
            for d in session.scalars(select(Decision).where(Decision.status == DecisionStatus.DRAFT))
        ]
        items = stored.items_of(session, theme_id, visible)
        return {"theme": shown, "items": items, "others": others, "drafts": drafts}

    context = await runtime.db.in_transaction(load)
    if context is None:
        return error_page(request, 404, "There is no such theme (the themes may have been computed again).")
    title = f"Theme {context['theme'].label}"
    return render(request, "dashboard/theme.html", title=title, language_names=LANGUAGE_NAMES, **context)


@page("content")
async def recompute(request: Request) -> Response:
    """POST /dashboard/themes/compute: find the themes again (names and confirmations carried over; audited)."""
    runtime, staff = runtime_of(request), staff_of(request)

    def act(session: Session) -> int:
        now = runtime.clock.now()
        found = stored.compute(session, now)
        audit.record(session, staff.actor, "themes.compute", "themes", now, themes=found)
        return found

    found = await runtime.db.in_transaction(act)
    return with_notice("/dashboard/themes", f"{found} themes found.")


@page("content")
async def change(request: Request) -> Response:
    """POST /dashboard/themes/{id}/change: action=rename (label) | confirm | split | merge (into=id); audited."""
    runtime, staff = runtime_of(request), staff_of(request)
    theme_id = int(request.path_params["id"])
    form = await read_form(request)
    action = str(form.get("action") or "")

    def act(session: Session) -> str:
        now = runtime.clock.now()
        if action == "rename":
            theme = stored.rename(session, theme_id, str(form.get("label") or ""), now)
            said = f"Named {theme.label!r}."
        elif action == "confirm":
            stored.confirm(session, theme_id, now)
            said = "Confirmed."
        elif action == "split":
            stored.split(session, theme_id, now)
            said = "Split in two: the new theme is unnamed."
        elif action == "merge":
            into = plain_number(str(form.get("into") or ""), MAX_RECORD_ID)
            if into is None:
                raise stored.ThemeError("Choose the theme to merge it into.")
            stored.merge(session, theme_id, into, now)
            said = "Merged."
        else:
            raise stored.ThemeError("Choose rename, confirm, split or merge.")
        audit.record(session, staff.actor, f"theme.{action}", f"theme:{theme_id}", now)
        return said

    try:
        said = await runtime.db.in_transaction(act)
    except stored.ThemeError as exc:
        return error_page(request, 400, str(exc), title="Cannot do that")
    return with_notice("/dashboard/themes", said)


@page("decide")
async def cite(request: Request) -> Response:
    """POST /dashboard/themes/{id}/cite: link every item of the theme to a draft decision (decision=slug; audited)."""
    runtime, staff = runtime_of(request), staff_of(request)
    theme_id = int(request.path_params["id"])
    slug = str((await read_form(request)).get("decision") or "")[:64]

    def act(session: Session) -> int:
        decision = decisions.find(session, slug)
        now, linked = runtime.clock.now(), 0
        for ref in stored.item_refs(session, theme_id):
            decisions.link_item(session, decision, ref, "acted_on", staff.actor, now)
            linked += 1
        return linked

    try:
        linked = await runtime.db.in_transaction(act)
    except decisions.DecisionError as exc:
        return error_page(request, 400, str(exc), title="Cannot do that")
    return with_notice(f"/dashboard/decisions/{slug}", f"{linked} items of the theme are linked to the decision.")


@page("content")
async def propose(request: Request) -> Response:
    """POST /dashboard/themes/{id}/propose: the theme as a published proposal residents can support (audited)."""
    runtime, staff = runtime_of(request), staff_of(request)
    theme_id = int(request.path_params["id"])

    def act(session: Session) -> int:
        theme = session.get(Theme, theme_id)
        if theme is None:
            raise stored.ThemeError("There is no such theme (the themes may have been computed again).")
        now = runtime.clock.now()
        text = theme.label or ", ".join(theme.keywords[:3])
        return proposals.from_staff(
            session, text, runtime.settings.default_locale, staff.actor, now, runtime.pipeline.rng
        )

    try:
        ref = await runtime.db.in_transaction(act)
    except stored.ThemeError as exc:
        return error_page(request, 404, str(exc))
    except proposals.ProposalError as exc:
        return error_page(request, 400, str(exc), title="Cannot do that")
    return with_notice(f"/dashboard/proposals/{ref}", "Published as a proposal: residents can support it.")


ROUTES: list[BaseRoute] = [
    Route("/dashboard/themes/{id:id}/cite", cite, methods=["POST"]),
    Route("/dashboard/themes/{id:id}/propose", propose, methods=["POST"]),
    Route("/dashboard/themes", themes_page, methods=["GET"]),
    Route("/dashboard/themes/compute", recompute, methods=["POST"]),
    Route("/dashboard/themes/{id:id}", theme_page, methods=["GET"]),
    Route("/dashboard/themes/{id:id}/change", change, methods=["POST"]),
]
