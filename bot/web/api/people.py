"""API routes about people: who holds the token (/me) and residents (addresses only for roles that may see numbers)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.staff.accounts import PERMISSIONS
from bot.store.models import Address, Resident
from bot.store.staff import Organization
from bot.web.api import serialize
from bot.web.api.operations import AFTER, LIMIT, Param, data, not_found, operation, page
from bot.web.api.schemas import CHANNELS, CONSENT_STATES, page_of, ref
from bot.web.guard import runtime_of, staff_of

RESIDENT_ID = Param("id", "integer", "The resident's id.", where="path", minimum=1)
RESIDENT_FILTERS = (
    Param("language", "enum", "Only residents with this language.", choices=SUPPORTED_LOCALES),
    Param("area", "string", "Only residents of this area (case-insensitive)."),
    Param("channel", "enum", "Only residents with an address on this channel.", choices=CHANNELS),
    Param("consent", "enum", "Only residents in this consent state.", choices=CONSENT_STATES),
)
ADDRESSES_NOTE = (
    "Addresses (phone numbers, chat ids) are included only for roles that may see numbers (admin, staff); "
    "viewers get residents without them and partners cannot list residents."
)


@operation("GET", "/me", permission="view", summary="Who the token belongs to", response=ref("Me"), tag="people")
async def get_me(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/me."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load() -> dict[str, Any] | None:
        if staff.organization_id is None:
            return None
        with runtime.db.transaction() as session:
            org = session.get(Organization, staff.organization_id)
            return {"id": org.id, "slug": org.slug, "name": org.name} if org else None

    organization = await runtime.db.run(load)
    return data(
        {
            "email": staff.email,
            "role": staff.role,
            "organization": organization,
            "permissions": sorted(PERMISSIONS.get(staff.role, frozenset())),
        }
    )


@operation(
    "GET",
    "/residents",
    permission="view",
    partners=False,
    summary="Residents, a page at a time",
    description=ADDRESSES_NOTE,
    params=(LIMIT, AFTER, *RESIDENT_FILTERS),
    response=page_of("Resident"),
    tag="people",
)
async def list_residents(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/residents."""
    runtime, staff = runtime_of(request), staff_of(request)
    query = select(Resident)
    if args["language"]:
        query = query.where(Resident.locale == args["language"])
    if args["area"]:
        query = query.where(func.lower(Resident.area) == args["area"].lower())
    if args["channel"]:
        query = query.where(Resident.id.in_(select(Address.resident_id).where(Address.channel == args["channel"])))
    if args["consent"]:
        query = query.where(Resident.consent == args["consent"])

    def load(session: Session) -> dict[str, Any]:
        return page(
            session,
            query,
            Resident.id,
            args,
            lambda rows: serialize.residents(session, rows, staff.can("view_numbers")),
        )

    return data(await runtime.db.in_transaction(load))


@operation(
    "GET",
    "/residents/{id}",
    permission="view",
    partners=False,
    summary="One resident",
    description=ADDRESSES_NOTE,
    params=(RESIDENT_ID,),
    response=ref("Resident"),
    tag="people",
)
async def get_resident(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/residents/{id}."""
    runtime, staff = runtime_of(request), staff_of(request)

    def load(session: Session) -> dict[str, Any]:
        row = session.get(Resident, args["id"])
        if row is None:
            raise not_found(f"resident {args['id']}")
        return serialize.residents(session, [row], staff.can("view_numbers"))[0]

    return data(await runtime.db.in_transaction(load))
