"""API routes about what the program runs: polls and their results, events, broadcasts and decisions."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.conversation.flows.schema import Flow
from bot.engagement import representation, weighting
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.polls import tally as results
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.runtime import Runtime
from bot.staff import sharing
from bot.staff.accounts import Staff
from bot.states import DecisionStatus, PollStatus
from bot.store.engagement import Broadcast, Decision, Event, Poll
from bot.web.api import serialize
from bot.web.api.operations import (
    AFTER,
    LIMIT,
    Param,
    csv_response,
    data,
    not_found,
    operation,
    page,
    wants_csv,
)
from bot.web.api.schemas import page_of, ref
from bot.web.guard import runtime_of, staff_of

POLL_SLUG = Param("slug", "slug", "The poll's slug.", where="path")
EVENT_SLUG = Param("slug", "slug", "The event's slug.", where="path")
DECISION_SLUG = Param("slug", "slug", "The decision's slug.", where="path")
BROADCAST_ID = Param("id", "integer", "The broadcast's id.", where="path", minimum=1)
PARTNER_POLLS = "Partners see only the polls shared with their organization."


def visible_decisions(staff: Staff) -> ColumnElement[bool]:
    """Published decisions, and drafts too for roles that decide."""
    return true() if staff.can("decide") else Decision.status == DecisionStatus.PUBLISHED


def poll_flow(runtime: Runtime, session: Session, slug: str) -> Flow | None:
    """The latest version of the poll's questions (another process may have loaded a newer one)."""
    runtime.flows.refresh(session)
    version_id = runtime.flows.latest.get(POLL_FLOW_PREFIX + slug)
    return runtime.flows.get(session, version_id) if version_id is not None else None


def find_poll(session: Session, staff: Staff, slug: str) -> Poll:
    """The poll if the caller may see it; 404 otherwise."""
    poll = session.scalars(select(Poll).where(Poll.slug == slug, sharing.visible_to(session, staff, "poll"))).first()
    if poll is None:
        raise not_found(f"poll {slug!r}")
    return poll


@operation(
    "GET",
    "/polls",
    permission="view",
    summary="Polls, a page at a time",
    description=PARTNER_POLLS,
    params=(LIMIT, AFTER, Param("status", "enum", "Only polls in this state.", choices=tuple(PollStatus))),
    response=page_of("Poll"),
    tag="polls",
)
async def list_polls(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/polls."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        query = select(Poll).where(sharing.visible_to(session, staff, "poll"))
        if args["status"]:
            query = query.where(Poll.status == args["status"])
        return page(session, query, Poll.id, args, serialize.polls)

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/polls/{slug}",
    permission="view",
    summary="One poll with its questions",
    description=PARTNER_POLLS,
    params=(POLL_SLUG,),
    response=ref("PollDetail"),
    tag="polls",
)
async def get_poll(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/polls/{slug}."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        poll = find_poll(session, staff, args["slug"])
        flow = poll_flow(runtime, session, poll.slug)
        return {**serialize.polls([poll])[0], "questions": serialize.questions(flow)}

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/polls/{slug}/representation",
    permission="view",
    summary="Who answered a poll against the population: shares, ratios, flagged groups, a score per dimension",
    description=PARTNER_POLLS,
    params=(POLL_SLUG,),
    response=ref("Representation"),
    tag="polls",
)
async def get_poll_representation(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/polls/{slug}/representation."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        found = representation.kept_report(session, find_poll(session, staff, args["slug"]))
        return {"poll": args["slug"], **asdict(found)}

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/polls/{slug}/weighted",
    permission="view",
    summary="A poll's results weighted to the population baseline (raking), with what the weights cost",
    description=PARTNER_POLLS,
    params=(POLL_SLUG,),
    response=ref("Weighted"),
    tag="polls",
)
async def get_poll_weighted(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/polls/{slug}/weighted."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        poll = find_poll(session, staff, args["slug"])
        flow = poll_flow(runtime, session, poll.slug)
        found, questions = weighting.weighted(session, poll, flow)
        summary = {**weighting.summary_of(found), "margins": [asdict(m) for m in found.margins]}
        return {"poll": poll.slug, **summary, "questions": [asdict(q) for q in questions]}

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/representation",
    permission="view",
    summary="Who takes part in the program against the population, per dimension",
    params=(),
    response=ref("Representation"),
    partners=False,
    tag="polls",
)
async def get_representation(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/representation."""
    runtime = runtime_of(request)

    def load(session: Session) -> dict[str, Any]:
        return {"poll": None, **asdict(representation.kept_report(session))}

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/polls/{slug}/results",
    permission="view",
    summary="A poll's results, overall and by language, area and channel (JSON or CSV)",
    description=PARTNER_POLLS,
    params=(POLL_SLUG,),
    response=ref("Results"),
    csv=True,
    tag="polls",
)
async def get_poll_results(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/polls/{slug}/results[?format=csv]."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> list[results.QuestionResult]:
        poll = find_poll(session, staff, args["slug"])
        flow = poll_flow(runtime, session, poll.slug)
        return results.poll_results(session, poll, flow) if flow is not None else []

    found = await runtime.db.in_transaction(load)
    if wants_csv(request, args):
        return csv_response(results.as_csv(found), f"{args['slug']}-results.csv")
    return data({"poll": args["slug"], "questions": [asdict(r) for r in found]})


@operation(
    "GET",
    "/events",
    permission="view",
    summary="Events with their RSVP counts, a page at a time",
    params=(LIMIT, AFTER),
    response=page_of("Event"),
    tag="events",
)
async def list_events(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/events."""
    runtime = runtime_of(request)

    def load(session: Session) -> dict[str, Any]:
        return page(session, select(Event), Event.id, args, lambda rows: serialize.events(session, rows))

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/events/{slug}",
    permission="view",
    summary="One event with its RSVP counts",
    params=(EVENT_SLUG,),
    response=ref("Event"),
    tag="events",
)
async def get_event(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/events/{slug}."""
    runtime = runtime_of(request)

    def load(session: Session) -> dict[str, Any]:
        event = session.scalars(select(Event).where(Event.slug == args["slug"])).first()
        if event is None:
            raise not_found(f"event {args['slug']!r}")
        return serialize.events(session, [event])[0]

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/broadcasts",
    permission="broadcast",
    summary="Broadcasts, a page at a time",
    description="Partners see only broadcasts to an audience shared with their organization.",
    params=(LIMIT, AFTER),
    response=page_of("Broadcast"),
    tag="broadcasts",
)
async def list_broadcasts(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/broadcasts."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        query = select(Broadcast).where(sharing.visible_to(session, staff, "broadcast"))
        return page(session, query, Broadcast.id, args, serialize.broadcasts)

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/broadcasts/{id}",
    permission="broadcast",
    summary="One broadcast with its delivery status",
    params=(BROADCAST_ID,),
    response=ref("BroadcastDetail"),
    tag="broadcasts",
)
async def get_broadcast(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/broadcasts/{id}."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        row = session.scalars(
            select(Broadcast).where(Broadcast.id == args["id"], sharing.visible_to(session, staff, "broadcast"))
        ).first()
        if row is None:
            raise not_found(f"broadcast {args['id']}")
        found = broadcasts.status(session, row.id)
        status = {key: {str(k): int(v) for k, v in found[key].items()} for key in ("outbox", "reasons", "delivery")}
        return {**serialize.broadcasts([row])[0], "status": status}

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/decisions",
    permission="view",
    summary="Decisions with the input and polls behind them, a page at a time",
    description="Published decisions; drafts too for roles that decide (admin, staff).",
    params=(LIMIT, AFTER, Param("status", "enum", "Only decisions in this state.", choices=tuple(DecisionStatus))),
    response=page_of("Decision"),
    tag="decisions",
)
async def list_decisions(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/decisions."""
    runtime, staff = runtime_of(request), staff_of(request)
    query = select(Decision).where(visible_decisions(staff))
    if args["status"]:
        query = query.where(Decision.status == args["status"])

    def load(session: Session) -> dict[str, Any]:
        return page(
            session,
            query,
            Decision.id,
            args,
            lambda rows: serialize.decisions(session, rows, staff.can("decide")),
        )

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/decisions/{slug}",
    permission="view",
    summary="One decision with the input items (refs and outcome) and polls behind it",
    description="A draft is found only by roles that decide.",
    params=(DECISION_SLUG,),
    response=ref("Decision"),
    tag="decisions",
)
async def get_decision(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/decisions/{slug}."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        row = session.scalars(select(Decision).where(Decision.slug == args["slug"], visible_decisions(staff))).first()
        if row is None:
            raise not_found(f"decision {args['slug']!r}")
        return serialize.decisions(session, [row], staff.can("decide"))[0]

    return data(await runtime.db.in_transaction(load))
