"""File downloads, one way: a CSV with a UTF-8 byte-order mark (spreadsheet programs then read every script
right), as an attachment, never cached."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TypeVar

from sqlalchemy.orm import Session
from starlette.responses import Response, StreamingResponse

from bot.store.db import Database

Cursor = TypeVar("Cursor")
BOM = "\ufeff"


def csv_download(text: str, filename: str, headers: Mapping[str, str]) -> Response:
    """A CSV attachment named filename; headers carry the caller's cache and privacy headers."""
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(BOM + text, media_type="text/csv; charset=utf-8", headers={**headers, **disposition})


def _page(
    page: Callable[[Session, Cursor | None], tuple[str, Cursor | None]], after: Cursor | None, session: Session
) -> tuple[str, Cursor | None]:
    return page(session, after)


def csv_pages(
    db: Database,
    page: Callable[[Session, Cursor | None], tuple[str, Cursor | None]],
    pages: int,
    filename: str,
    headers: Mapping[str, str],
) -> StreamingResponse:
    """A CSV attachment written a page at a time, each page read in a short transaction of its own (page(session,
    after) gives the page and where the next starts, None after the last), at most `pages` pages: a large export
    never holds all its rows at once, and no transaction stays open while the client reads."""

    async def body() -> AsyncIterator[bytes]:
        after: Cursor | None = None
        yield BOM.encode()
        for _ in range(pages):
            text, after = await db.in_transaction(functools.partial(_page, page, after))
            yield text.encode()
            if after is None:
                return

    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8", headers={**headers, **disposition})
