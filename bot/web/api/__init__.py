"""The JSON API at /api/v1 (bearer tokens) and its OpenAPI document."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
