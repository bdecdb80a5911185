"""The files residents sent, on the dashboard: the one rule of who sees which (admin and staff every file of an item
they see; partners and viewers only the files staff marked publishable, of items the sharing rule shows them), the
route that serves a file's bytes (authenticated, its checked type, nosniff, a download name, a CSP that runs nothing)
and staff marking a file publishable (audited)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.media.kinds import KINDS, described
from bot.staff import audit, sharing
from bot.staff.accounts import Staff
from bot.store.engagement import InputItem
from bot.store.media import Attachment, MediaStatus
from bot.web.guard import page, read_form, runtime_of, staff_of
from bot.web.rendering import error_page

# A file is data, never a page: nothing in it runs, nothing frames it, nothing caches it.
FILE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class Shown:
    """A file as the item's page shows it."""

    id: int
    shown_as: str  # "image", "audio", "document", or "" while it is not stored
    what: str  # plain words: "photo", "audio recording", "PDF document"
    content_type: str
    size: int
    publishable: bool
    status: str
    error: str | None


def sees_every_file(staff: Staff) -> bool:
    """Admin and staff see every file of an item; partners and viewers only those marked publishable."""
    return staff.can("view_numbers")


def _files_clause(staff: Staff) -> ColumnElement[bool]:
    if sees_every_file(staff):
        return true()
    return (Attachment.publishable.is_(True)) & (Attachment.status == MediaStatus.STORED)


def files_of(session: Session, staff: Staff, item: InputItem) -> list[Shown]:
    """The files of an item the person may see (staff also see those still being fetched, or refused and why)."""
    rows = session.scalars(
        select(Attachment).where(Attachment.item_id == item.id, _files_clause(staff)).order_by(Attachment.id)
    )
    shown = []
    for row in rows:
        kind = KINDS.get(row.content_type or "") if row.status == MediaStatus.STORED else None
        what = described(kind) if kind else "file"
        error = row.error if sees_every_file(staff) else None
        content_type = row.content_type or row.declared_type or ""
        size = row.size or 0
        shown.append(
            Shown(row.id, kind.shown_as if kind else "", what, content_type, size, row.publishable, row.status, error)
        )
    return shown


def file_counts(session: Session, staff: Staff, item_ids: Collection[int]) -> dict[int, int]:
    """How many kept files each of these items has that the person may see (the inbox list's marker)."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(Attachment.item_id, func.count())
        .where(Attachment.item_id.in_(list(item_ids)), Attachment.status == MediaStatus.STORED, _files_clause(staff))
        .group_by(Attachment.item_id)
    )
    return {int(item_id): int(n) for item_id, n in rows if item_id is not None}


def _visible(session: Session, staff: Staff, attachment_id: int) -> tuple[Attachment, InputItem] | None:
    """The stored file and its item, when the person may see both (the sharing rule for the item, then this one's)."""
    found = session.execute(
        select(Attachment, InputItem)
        .join(InputItem, InputItem.id == Attachment.item_id)
        .where(
            Attachment.id == attachment_id,
            Attachment.status == MediaStatus.STORED,
            sharing.visible_to(session, staff, "item"),
            _files_clause(staff),
        )
    ).first()
    return (found[0], found[1]) if found is not None else None


@page("view")
async def media_file(request: Request) -> Response:
    """GET /dashboard/media/{id}: a file's bytes, for those who may see it (else 404, as for a file that is not)."""
    runtime, staff = runtime_of(request), staff_of(request)
    attachment_id = int(request.path_params["id"])

    def load(session: Session) -> tuple[str, str] | None:
        found = _visible(session, staff, attachment_id)
        if found is None or not found[0].storage_key or not found[0].content_type:
            return None
        return found[0].storage_key, found[0].content_type

    known = await runtime.db.in_transaction(load)
    data = await asyncio.to_thread(runtime.storage.get, known[0]) if known else None
    if known is None or data is None:
        return error_page(request, 404, "There is no such file for you.")
    kind = KINDS[known[1]]
    disposition = "attachment" if kind.shown_as == "document" else "inline"
    headers = {**FILE_HEADERS, "Content-Disposition": f'{disposition}; filename="file-{attachment_id}{kind.extension}"'}
    return Response(data, media_type=kind.content_type, headers=headers)


@page("view_numbers")
async def media_publishable(request: Request) -> Response:
    """POST /dashboard/media/{id}/publishable: staff say whether partners and viewers may see the file (audited)."""
    runtime, staff = runtime_of(request), staff_of(request)
    attachment_id = int(request.path_params["id"])
    form = await read_form(request)
    publishable = form.get("publishable") in ("1", "on", "yes")

    def act(session: Session) -> int | None:
        found = _visible(session, staff, attachment_id)
        if found is None:
            return None
        attachment, item = found
        if attachment.publishable != publishable:
            attachment.publishable = publishable
            details: dict[str, Any] = {"file": attachment_id, "publishable": publishable}
            now = runtime.clock.now()
            audit.record(session, staff.actor, "item.file_publishable", f"item:{item.ref}", now, **details)
        return item.ref

    ref = await runtime.db.in_transaction(act)
    if ref is None:
        return error_page(request, 404, "There is no such file for you.")
    said = "Partners and viewers may see the file." if publishable else "Only staff see the file."
    return RedirectResponse(f"/dashboard/inbox/{ref}?{urlencode({'done': said})}", status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/dashboard/media/{id:id}", media_file, methods=["GET"]),
    Route("/dashboard/media/{id:id}/publishable", media_publishable, methods=["POST"]),
]
