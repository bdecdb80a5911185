"""The staff and organizer dashboard: every route it serves, gathered from its modules."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from bot.web import api, public
from bot.web.dashboard import (
    admin,
    broadcasts_views,
    decisions_views,
    events_views,
    inbox,
    organizations,
    overview,
    polls,
    residents,
    session_views,
)


def routes() -> list[BaseRoute]:
    """Sign-in, sign-out, every dashboard page, the public page and the JSON API."""
    return [
        Route("/login", session_views.login_form, methods=["GET"]),
        Route("/login", session_views.login, methods=["POST"]),
        Route("/logout", session_views.logout, methods=["POST"]),
        Route("/dashboard", overview.overview, methods=["GET"]),
        *polls.ROUTES,
        *events_views.ROUTES,
        *broadcasts_views.ROUTES,
        *inbox.ROUTES,
        *decisions_views.ROUTES,
        *admin.ROUTES,
        *organizations.ROUTES,
        *residents.ROUTES,
        *public.ROUTES,
        *api.ROUTES,
    ]
