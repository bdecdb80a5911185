"""The "who answered" panel of a poll's page: each dimension's groups against the population, with a chart of how
close each group comes to its share (100% is a mirror of the population)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from bot.engagement import representation
from bot.engagement.forms import language_name
from bot.store.engagement import Poll
from bot.web.dashboard.charts import bar_chart


def representation_panel(session: Session, poll: Poll | None) -> dict[str, Any]:
    """The report for a poll's respondents (or everyone taking part), ready for a page: groups named in plain words,
    a chart each."""
    found = representation.report(session, poll)
    dimensions = []
    for dimension in found.dimensions:
        named = [
            (language_name(g.group) if dimension.dimension == "language" and g.group != "not known" else g.group, g)
            for g in dimension.groups
        ]
        bars = [(name, round(100 * g.ratio, 1)) for name, g in named if g.ratio is not None]
        chart = (
            bar_chart(
                f"representation-{dimension.dimension}",
                f"Share of respondents against the population, by {dimension.dimension}",
                bars,
                description="100% means as many as in the population; below 80% is flagged.",
            )
            if bars
            else None
        )
        dimensions.append({"name": dimension.dimension, "score": dimension.score, "groups": named, "chart": chart})
    flagged = any(g.flagged for d in found.dimensions for g in d.groups)
    return {"respondents": found.respondents, "sources": found.sources, "dimensions": dimensions, "flagged": flagged}
