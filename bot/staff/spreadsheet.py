"""CSV that spreadsheet programs open safely: no cell runs as a formula (OWASP CSV injection); the one CSV writer."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

# What starts a formula in Excel, LibreOffice or Google Sheets, full-width and small forms included (some
# spreadsheets fold them to ASCII); tab, CR and LF because an import may drop them, or a space, before the cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠", "﹦", "﹢", "﹣", "﹫")


def safe_cell(value: Any) -> str:
    """The value as text; text that would start a formula, even after leading spaces, gets a leading apostrophe
    (the spreadsheet convention for "this is text": the original is the cell without it). Numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.lstrip().startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[str] | None, rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV under a header (None: a later part of a file, no header), every cell made safe."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header is not None:
        writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
    return out.getvalue()


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV file read back (a byte-order mark tolerated): its header and its rows as column -> value."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    rows = [{str(k): (v or "") for k, v in row.items() if k is not None} for row in reader]
    return list(reader.fieldnames or []), rows
