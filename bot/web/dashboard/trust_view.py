"""The Trust page: answers to "Does the health department listen to people like you?" over time (each quarter's
average and share answering 4 or 5), and the latest quarter by language, area and what residents said about
themselves — never a group of fewer than 5."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement import trust
from bot.engagement.forms import LANGUAGE_NAMES
from bot.web.dashboard.charts import bar_chart
from bot.web.guard import page, runtime_of
from bot.web.rendering import render


@page("view")
async def trust_page(request: Request) -> Response:
    """GET /dashboard/trust."""
    runtime = runtime_of(request)

    def load(session: Session) -> dict[str, Any]:
        quarters = trust.over_time(session)
        told = [(q.group, q.average) for q in quarters if q.average is not None]
        chart = (
            bar_chart(
                "trust-over-time",
                "Average answer by quarter (1 = not at all, 5 = very much)",
                told,
                unit="",
                maximum=5.0,
                description="Each quarter's average answer.",
            )
            if told
            else None
        )
        latest = quarters[-1].group if quarters else None
        return {
            "quarters": quarters,
            "chart": chart,
            "latest": latest,
            "groups": trust.by_group(session, latest) if latest else {},
        }

    context = await runtime.db.in_transaction(load)
    return render(request, "dashboard/trust.html", title="Trust", language_names=LANGUAGE_NAMES, **context)


ROUTES: list[BaseRoute] = [Route("/dashboard/trust", trust_page, methods=["GET"])]
