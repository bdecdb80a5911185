"""File downloads, one way: a CSV with a UTF-8 byte-order mark (spreadsheet programs then read every script
right), as an attachment, never cached."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response


def csv_download(text: str, filename: str, headers: Mapping[str, str]) -> Response:
    """A CSV attachment named filename; headers carry the caller's cache and privacy headers."""
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers={**headers, **disposition})
