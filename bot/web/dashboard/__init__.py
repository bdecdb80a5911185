"""The staff and organizer dashboard: every route it serves, gathered from its modules."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from bot.web.dashboard import overview, session_views


def routes() -> list[BaseRoute]:
    """Sign-in, sign-out and every dashboard page."""
    return [
        Route("/login", session_views.login_form, methods=["GET"]),
        Route("/login", session_views.login, methods=["POST"]),
        Route("/logout", session_views.logout, methods=["POST"]),
        Route("/dashboard", overview.overview, methods=["GET"]),
    ]
