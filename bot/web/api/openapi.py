"""The OpenAPI 3.1 document of /api/v1, generated from the table of operations (never written out twice)."""

from __future__ import annotations

import functools
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from bot.web.api.operations import OPERATIONS, PREFIX, Operation, data, operation
from bot.web.api.schemas import SCHEMAS

VERSION = "1.0.0"
_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
ERROR_RESPONSES = {
    "BadRequest": "A parameter or the body is not acceptable; `detail` says which and why.",
    "Unauthorized": "No bearer token, or one that is unknown, revoked, or belongs to a deactivated user.",
    "Forbidden": "The token's role may not do this.",
    "NotFound": "No such thing, or not visible to this token.",
    "TooLarge": "The body is larger than 64 KiB.",
    "UnsupportedMediaType": "The body must be application/json.",
    "Conflict": "The change does not fit the thing's present state (e.g. a status it cannot move to from where it is); "
    "`detail` says where it can go.",
}


def _responses(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"application/json": {"schema": op.response}}
    if op.csv:
        success["text/csv"] = {"schema": {"type": "string"}}
    answers: dict[str, Any] = {"200": {"description": op.summary, "content": success}}
    errors = {"400": "BadRequest"}
    if op.permission:
        errors.update({"401": "Unauthorized", "403": "Forbidden"})
    if any(p.where == "path" for p in op.params) or op.permission:
        errors["404"] = "NotFound"
    if op.body is not None:
        errors.update({"413": "TooLarge", "415": "UnsupportedMediaType"})
    if op.method == "PATCH":
        errors["409"] = "Conflict"
    answers.update({code: {"$ref": f"#/components/responses/{name}"} for code, name in sorted(errors.items())})
    return answers


def _operation(op: Operation) -> dict[str, Any]:
    found: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "parameters": [
            {
                "name": p.name,
                "in": p.where,
                "required": p.where == "path",
                "description": p.description,
                "schema": p.schema(),
            }
            for p in op.params
        ],
        "responses": _responses(op),
    }
    notes = [op.description] if op.description else []
    if op.permission:
        notes.append(f"Needs the `{op.permission}` permission." + ("" if op.partners else " Not for partners."))
    if notes:
        found["description"] = " ".join(notes)
    if op.tags:
        found["tags"] = list(op.tags)
    if op.body is not None:
        found["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    if op.permission is None:
        found["security"] = []
    return found


@functools.cache
def document() -> dict[str, Any]:
    """The whole document (built once per process: the table does not change while it runs)."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(PREFIX + op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Loopline API",
            "version": VERSION,
            "description": (
                "Read residents (numbers only for admin and staff), polls and results, events, broadcasts, input "
                "items and decisions; triage input items. Bearer tokens come from `loopline users token` or the "
                "dashboard's Users page. Errors are JSON {error, detail}; times are ISO 8601 in UTC; lists are "
                "paginated with `limit` and the `after` cursor."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "From `loopline users token`."}
            },
            "schemas": SCHEMAS,
            "responses": {name: {"description": text, "content": _ERROR} for name, text in ERROR_RESPONSES.items()},
        },
    }


@operation(
    "GET",
    "/openapi.json",
    permission=None,
    summary="This document (OpenAPI 3.1); no token needed",
    response={"type": "object", "description": "An OpenAPI 3.1 document"},
    tag="meta",
)
async def get_openapi(request: Request, args: dict[str, Any]) -> Response:
    """GET /api/v1/openapi.json."""
    return data(document())
