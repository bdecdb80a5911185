"""The "who answered" panel of a poll's page: each dimension's groups against the population, with a chart of how
close each group comes to its share (100% is a mirror of the population)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversation.text import fold
from bot.engagement import representation
from bot.engagement.broadcasts.audiences import AudienceError, parse_audience
from bot.engagement.forms import language_name
from bot.store.engagement import Poll
from bot.store.staff import Organization, Share
from bot.web.dashboard.charts import bar_chart


def representation_panel(
    session: Session, poll: Poll | None, who: dict[int, dict[str, str]] | None = None
) -> dict[str, Any]:
    """The report for a poll's respondents (or everyone taking part, or the people given: who), ready for a page:
    groups named in plain words, a chart each."""
    found = representation.kept_report(session, poll) if who is None else representation.report(session, who=who)
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
    flagged = {d.dimension: {g.group for g in d.groups if g.flagged} for d in found.dimensions}
    return {
        "respondents": found.respondents,
        "sources": found.sources,
        "dimensions": dimensions,
        "flagged": any(flagged.values()),
        "partners": _partners_reaching(session, flagged, poll),
    }


def _partners_reaching(
    session: Session, flagged: dict[str, set[str]], poll: Poll | None
) -> list[tuple[int, str, str, bool]]:
    """The partner organizations whose shared audiences reach a flagged group (by language or area): (id, name,
    the audience, whether the poll is already shared with them) — to share the poll with them for outreach."""
    wanted = {"language": flagged.get("language", set()), "area": {fold(a) for a in flagged.get("area", set())}}
    if not any(wanted.values()):
        return []
    shared = (
        set(session.scalars(select(Share.organization_id).where(Share.kind == "poll", Share.subject == poll.slug)))
        if poll
        else set()
    )
    found = []
    rows = session.execute(
        select(Organization.id, Organization.name, Share.subject)
        .join(Share, Share.organization_id == Organization.id)
        .where(Share.kind == "audience")
        .order_by(Organization.name)
    )
    for organization_id, name, expression in rows:
        try:
            terms = parse_audience(expression).terms
        except AudienceError:
            continue
        languages = set(terms.get("language", ())) & wanted["language"]
        areas = {fold(a) for a in terms.get("area", ())} & wanted["area"]
        if languages or areas:
            found.append((int(organization_id), str(name), str(expression), organization_id in shared))
    return found
