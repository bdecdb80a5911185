"""Dashboard pages for residents' proposals: the list (waiting, published, merged, declined; the most supported
first), one proposal with who supports it against the population, and staff's moderation (publish, merge into a
similar published one, decline with the reason the proposer is told), each audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement import agenda_poll as agenda
from bot.engagement import proposals, representation
from bot.engagement.feedback.triage import TriageError
from bot.engagement.forms import LANGUAGE_NAMES
from bot.ids import MAX_RECORD_ID, plain_number
from bot.program import Program
from bot.staff import audit, sharing
from bot.states import ProposalState
from bot.store.engagement import InputItem
from bot.web.dashboard import co_owners_view
from bot.web.dashboard.polls import with_notice
from bot.web.dashboard.representation_view import representation_panel
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page, render

ACTIONS = ("publish", "merge", "decline")


@page("triage")
async def proposal_list(request: Request) -> Response:
    """GET /dashboard/proposals[?state=pending|published|merged|declined]."""
    runtime = runtime_of(request)
    state = request.query_params.get("state")
    state = state if state in tuple(ProposalState) else None

    staff = staff_of(request)

    def load(session: Session) -> list[proposals.Listed]:
        return proposals.listed(session, state, sharing.visible_to(session, staff, "item"))

    rows = await runtime.db.in_transaction(load)
    states = [str(s) for s in ProposalState]
    return render(
        request, "dashboard/proposals.html", title="Proposals", rows=rows, state=state, states=states,
        language_names=LANGUAGE_NAMES,
    )  # fmt: skip


@page("triage")
async def proposal_page(request: Request) -> Response:
    """GET /dashboard/proposals/{ref}: the proposal, what was done with it, and who supports it."""
    runtime = runtime_of(request)
    ref = int(request.path_params["ref"])

    staff = staff_of(request)

    def load(session: Session) -> dict[str, Any] | None:
        found = proposals.by_ref(session, ref)
        if found is None or not sharing.may_see(session, staff, "item", str(ref)):
            return None
        proposal, item = found
        listed = next((p for p in proposals.listed(session, None, InputItem.id == item.id)), None)
        who = proposals.supporter_groups(session, proposal.id)
        return {
            "proposal": listed,
            "resident_id": item.resident_id,
            "reason": proposal.reason,
            "supporters": representation_panel(session, None, who) if who else None,
            "dimensions": representation.DIMENSIONS,
            **co_owners_view.panel(session, "proposal", str(ref)),
        }

    context = await runtime.db.in_transaction(load)
    if context is None:
        return error_page(request, 404, "There is no such proposal.")
    names = LANGUAGE_NAMES
    return render(request, "dashboard/proposal.html", title=f"Proposal #{ref}", language_names=names, **context)


@page("triage")
async def moderate(request: Request) -> Response:
    """POST /dashboard/proposals/{ref}/moderate: action=publish | merge (into=REF) | decline (reason=...); partners
    moderate the proposals shared with their organization."""
    runtime, staff = runtime_of(request), staff_of(request)
    ref = int(request.path_params["ref"])
    form = await read_form(request)
    action = str(form.get("action") or "")
    if action not in ACTIONS:
        return error_page(request, 400, "Choose publish, merge or decline.", title="Bad request")

    def change(session: Session) -> str | None:
        found = proposals.by_ref(session, ref)
        if found is None or not sharing.may_see(session, staff, "item", str(ref)):
            return None
        proposal, item = found
        now, program = runtime.clock.now(), Program.of(runtime.settings)
        if action == "publish":
            proposals.publish(session, proposal, item, staff.actor, now, program)
            return "Published: residents can support it, and its author is being told."
        if action == "merge":
            into = plain_number(str(form.get("into") or "").strip().lstrip("#"), MAX_RECORD_ID)
            if into is None:
                raise proposals.ProposalError("Give the number of the published proposal to merge it into.")
            proposals.merge(session, proposal, item, into, staff.actor, now, program)
            return f"Merged into #{into}: its supporters count there, and its author is being told."
        proposals.decline(session, proposal, item, str(form.get("reason") or ""), staff.actor, now, program)
        return "Declined: its author is being told why."

    try:
        done = await runtime.db.in_transaction(change)
    except (proposals.ProposalError, TriageError) as exc:
        return error_page(request, 400, str(exc), title="Cannot do that")
    if done is None:
        return error_page(request, 404, "There is no such proposal.")
    return with_notice(f"/dashboard/proposals/{ref}", done)


@page("content")
async def agenda_poll(request: Request) -> Response:
    """POST /dashboard/proposals/agenda-poll: a draft poll ranking the most supported proposals (audited), opened in
    the poll editor to translate."""
    runtime, staff = runtime_of(request), staff_of(request)

    def make(session: Session) -> str:
        now = runtime.clock.now()
        poll = agenda.draft(session, runtime.flows, runtime.clock, runtime.settings.default_locale, now)
        audit.record(session, staff.actor, "poll.agenda", f"poll:{poll.slug}", now)
        return poll.slug

    try:
        slug = await runtime.db.in_transaction(make)
    except agenda.AgendaError as exc:
        return error_page(request, 400, str(exc), title="Cannot do that")
    return with_notice(f"/dashboard/polls/{slug}/edit", "Agenda poll drafted: translate its choices, then open it.")


ROUTES: list[BaseRoute] = [
    Route("/dashboard/proposals/agenda-poll", agenda_poll, methods=["POST"]),
    Route("/dashboard/proposals", proposal_list, methods=["GET"]),
    Route("/dashboard/proposals/{ref:id}", proposal_page, methods=["GET"]),
    Route("/dashboard/proposals/{ref:id}/moderate", moderate, methods=["POST"]),
]
