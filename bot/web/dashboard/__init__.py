"""The staff and organizer dashboard: every route it serves, gathered from its modules."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from bot.web import api, public
from bot.web.dashboard import (
    areas,
    broadcasts,
    co_decision_view,
    co_owners_view,
    compensation,
    decision_progress,
    decisions,
    events,
    inbox,
    organizations,
    overview,
    polls,
    proposals,
    residents,
    sign_in,
    themes_view,
    trust_view,
    users,
    weighting_view,
    whatsapp_view,
)


def routes() -> list[BaseRoute]:
    """Sign-in, sign-out, every dashboard page, the public page and the JSON API."""
    return [
        Route("/login", sign_in.login_form, methods=["GET"]),
        Route("/login", sign_in.login, methods=["POST"]),
        Route("/logout", sign_in.logout, methods=["POST"]),
        Route("/dashboard", overview.overview, methods=["GET"]),
        *polls.ROUTES,
        *weighting_view.ROUTES,
        *areas.ROUTES,
        *events.ROUTES,
        *compensation.ROUTES,
        *broadcasts.ROUTES,
        *whatsapp_view.ROUTES,
        *inbox.ROUTES,
        *proposals.ROUTES,
        *themes_view.ROUTES,
        *decisions.ROUTES,
        *decision_progress.ROUTES,
        *co_decision_view.ROUTES,
        *co_owners_view.ROUTES,
        *trust_view.ROUTES,
        *users.ROUTES,
        *organizations.ROUTES,
        *residents.ROUTES,
        *public.ROUTES,
        *api.ROUTES,
    ]
