"""Server-rendered SVG bar charts: accessible (role="img", <title>, <desc>), every label escaped."""

from __future__ import annotations

import re
from collections.abc import Sequence

from markupsafe import Markup, escape

# Sized for 15px text at 100%: the dashboard draws a chart at least this wide (it scrolls on a narrow screen).
ROW_HEIGHT = 34
BAR_HEIGHT = 24
LABEL_WIDTH = 280
BAR_WIDTH = 360
VALUE_WIDTH = 100
TOP = 8
LABEL_CHARACTERS = 32


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"


def _number(value: float) -> str:
    return f"{value:g}"


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    unit: str = "%",
    maximum: float | None = None,
    description: str = "",
) -> Markup:
    """Horizontal bars, one per (label, value); the description lists every value for screen readers."""
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "-", chart_id) or "chart"
    top = maximum if maximum is not None else max((value for _label, value in bars), default=0.0)
    scale = BAR_WIDTH / top if top > 0 else 0.0
    listing = "; ".join(f"{label}: {_number(value)}{unit}" for label, value in bars) or "no answers yet"
    summary = f"{description} {listing}." if description else f"{listing}."
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    height = TOP * 2 + ROW_HEIGHT * max(len(bars), 1)
    parts = [
        f'<svg class="chart" role="img" aria-labelledby="{safe_id}-title {safe_id}-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{safe_id}-title">{escape(title)}</title>',
        f'<desc id="{safe_id}-desc">{escape(summary)}</desc>',
    ]
    for row, (label, value) in enumerate(bars):
        y = TOP + row * ROW_HEIGHT
        length = max(value * scale, 0.0)
        middle = y + BAR_HEIGHT / 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle:.1f}" text-anchor="end" dominant-baseline="middle">'
            f"{escape(_short(label))}</text>"
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}"></rect>'
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{middle:.1f}" dominant-baseline="middle">'
            f"{escape(_number(value) + unit)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text above is escaped
