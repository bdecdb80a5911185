"""The JSON API at /api/v1 (bearer tokens) and its OpenAPI document, both built from one table of operations."""

from __future__ import annotations

from starlette.routing import BaseRoute

# Importing the modules fills the table (each endpoint declares its own row); the order is the document's order.
from bot.web.api import content, items, openapi, people
from bot.web.api.operations import routes

__all__ = ["content", "items", "openapi", "people"]

ROUTES: list[BaseRoute] = routes()
