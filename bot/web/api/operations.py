"""The API's declarative table: each operation's method, path, permission, parameters and schemas; routes and the
OpenAPI document are both built from it, so the two cannot drift apart."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from bot.ids import MAX_RECORD_ID, plain_number
from bot.web.downloads import csv_download
from bot.web.guard import api

PREFIX = "/api/v1"
MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_BODY_BYTES = 64 * 1024
NO_STORE = {"Cache-Control": "no-store"}
SLUG = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Handler = Callable[[Request, dict[str, Any]], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """An answer other than success: HTTP status, a short machine-readable code and a sentence for people."""

    def __init__(self, status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}

    def response(self) -> Response:
        """The error as JSON {"error", "detail"}."""
        return JSONResponse({"error": self.code, "detail": self.detail}, self.status, headers=self.headers)


# What the handlers enforce, said in the schema (JSON Schema patterns read the same in ECMA-262 and Python): text
# with no control character and something besides spaces; dates in the years 2000 to 2200.
PRINTABLE = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x20\x7f\x85][^\x00-\x1f\x7f]*$"
YEARS = r"^(2[01][0-9][0-9]|2200)-"


def bad_request(detail: str) -> ApiError:
    """400 with a sentence naming what was wrong."""
    return ApiError(400, "bad_request", detail)


def not_found(what: str) -> ApiError:
    """404 for something absent or not visible to the caller (the two are not told apart)."""
    return ApiError(404, "not_found", f"no {what}")


@dataclass(frozen=True)
class Param:
    """A query or path parameter: its type and bounds, checked before the endpoint runs (bad values -> 400)."""

    name: str
    kind: str  # integer | string | enum | slug | date-time
    description: str
    where: str = "query"
    choices: tuple[str, ...] = ()
    minimum: int = 0
    maximum: int = MAX_RECORD_ID
    max_length: int = 120
    default: Any = None

    def parse(self, raw: str) -> Any:
        """The typed value, or ApiError 400 naming the parameter."""
        if self.kind == "integer":
            if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
                raise bad_request(f"{self.name} must be a whole number")
            value = int(raw)
            if not self.minimum <= value <= self.maximum:
                raise bad_request(f"{self.name} must be between {self.minimum} and {self.maximum}")
            return value
        if self.kind == "enum":
            if raw not in self.choices:
                raise bad_request(f"{self.name} must be one of: {', '.join(self.choices)}")
            return raw
        if self.kind == "slug":
            if not SLUG.fullmatch(raw):
                raise bad_request(f"{self.name} must be 1-64 letters, digits, - or _")
            return raw
        if self.kind == "date-time":
            return parse_datetime(self.name, raw)
        if not raw.strip() or len(raw) > self.max_length or _CONTROL.search(raw):
            raise bad_request(f"{self.name} must be 1-{self.max_length} printable characters")
        return raw.strip()

    def schema(self) -> dict[str, Any]:
        """The parameter's JSON Schema for the OpenAPI document."""
        if self.kind == "integer":
            found: dict[str, Any] = {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}
        elif self.kind == "enum":
            found = {"type": "string", "enum": list(self.choices)}
        elif self.kind == "slug":
            found = {"type": "string", "pattern": f"^{SLUG.pattern}$"}
        elif self.kind == "date-time":
            found = {"type": "string", "format": "date-time", "maxLength": 40, "pattern": YEARS}
        else:
            found = {"type": "string", "minLength": 1, "maxLength": self.max_length, "pattern": PRINTABLE}
        if self.default is not None:
            found["default"] = self.default
        return found


def parse_datetime(name: str, raw: str) -> datetime:
    """An ISO 8601 date or date-time; without a zone it is taken as UTC."""
    if len(raw) > 40 or _CONTROL.search(raw):
        raise bad_request(f"{name} must be an ISO 8601 date or date-time")
    try:
        text = raw.replace("Z", "+00:00")
        if "T" in text:
            text = text.replace(" ", "+")  # a "+" in a query string arrives as a space
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise bad_request(f"{name} must be an ISO 8601 date or date-time, like 2026-03-01T00:00:00Z") from exc
    if value.year < 2000 or value.year > 2200:
        raise bad_request(f"{name} must be between the years 2000 and 2200")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


LIMIT = Param("limit", "integer", f"How many to return (1-{MAX_LIMIT}).", minimum=1, maximum=MAX_LIMIT)
AFTER = Param("after", "integer", "The cursor: the `next` value of the previous page.")
FORMAT = Param(
    "format", "enum", "json (the default) or csv; `Accept: text/csv` also asks for CSV.", choices=("json", "csv")
)


@dataclass(frozen=True)
class Operation:
    """One row of the table: what is served where, to whom, taking and answering what."""

    method: str
    path: str
    handler: Handler
    permission: str | None
    summary: str
    params: tuple[Param, ...]
    response: dict[str, Any]
    body: dict[str, Any] | None = None
    csv: bool = False
    partners: bool = True
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def operation_id(self) -> str:
        """A stable name for clients: the handler's name."""
        return self.handler.__name__


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    path: str,
    *,
    permission: str | None,
    summary: str,
    response: dict[str, Any],
    params: Sequence[Param] = (),
    body: dict[str, Any] | None = None,
    csv: bool = False,
    partners: bool = True,
    description: str = "",
    tag: str = "",
) -> Callable[[Handler], Handler]:
    """Declare an operation (a row of the table) for the handler below it."""

    def register(handler: Handler) -> Handler:
        params_ = (*params, FORMAT) if csv and FORMAT not in params else tuple(params)
        OPERATIONS.append(
            Operation(
                method,
                path,
                handler,
                permission,
                summary,
                params_,
                response,
                body,
                csv,
                partners,
                description,
                (tag,) if tag else (),
            )
        )
        return handler

    return register


def parse_arguments(op: Operation, request: Request) -> dict[str, Any]:
    """Every declared parameter parsed (absent ones take their default); unknown or repeated ones -> 400."""
    declared = {p.name: p for p in op.params if p.where == "query"}
    query = request.query_params
    unknown = sorted({key for key in query if key not in declared})
    if unknown:
        shown = ", ".join(repr(key[:40]) for key in unknown[:5])
        raise bad_request(f"unknown parameters {shown}; this route takes: {', '.join(declared) or 'none'}")
    args: dict[str, Any] = {}
    for name, param in declared.items():
        values = query.getlist(name)
        if len(values) > 1:
            raise bad_request(f"give {name} once")
        args[name] = param.parse(values[0]) if values else param.default
    for param in op.params:
        if param.where == "path":
            args[param.name] = param.parse(str(request.path_params.get(param.name, "")))
    return args


def _answering(guarded: Endpoint, name: str, permission: str | None) -> Endpoint:
    """The route's endpoint: ApiError becomes its JSON answer, and nothing the API answers is cached."""

    async def endpoint(request: Request) -> Response:
        try:
            response = await guarded(request)
        except ApiError as exc:
            response = exc.response()
        response.headers["Cache-Control"] = "no-store"
        return response

    endpoint.__name__ = name
    if permission:
        endpoint.required_permission = permission  # type: ignore[attr-defined]  # read by the security tests
    return endpoint


def _endpoint(op: Operation) -> Endpoint:
    async def checked(request: Request) -> Response:
        staff = getattr(request.state, "staff", None)
        if staff is not None and staff.scoped and not op.partners:
            raise ApiError(403, "forbidden", "partners cannot use this route")
        return await op.handler(request, parse_arguments(op, request))

    checked.__name__ = op.operation_id
    return _answering(api(op.permission)(checked) if op.permission else checked, op.operation_id, op.permission)


def routes() -> list[BaseRoute]:
    """A route for every operation in the table, then a JSON 404/405 for any other path under /api/v1."""
    table: list[BaseRoute] = [
        Route(PREFIX + op.path, _endpoint(op), methods=[op.method], name=f"api.{op.operation_id}") for op in OPERATIONS
    ]

    async def elsewhere(request: Request) -> Response:
        allowed = sorted(
            {
                op.method
                for op, route in zip(OPERATIONS, table, strict=True)
                if route.matches(request.scope)[0] != Match.NONE
            }
        )
        if allowed:
            raise ApiError(405, "method_not_allowed", f"use {', '.join(allowed)}", {"Allow": ", ".join(allowed)})
        raise not_found("such route; see /api/v1/openapi.json")

    # Any other path or method: 401 without a token (nothing is told about routes), then a JSON 404 or 405.
    unknown = _answering(api("view")(elsewhere), "elsewhere", "view")
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    fallback = [
        Route(PREFIX, unknown, methods=methods, include_in_schema=False),
        Route(PREFIX + "/{rest:path}", unknown, methods=methods, include_in_schema=False),
    ]
    return [*table, *fallback]


def data(payload: Any, status: int = 200) -> Response:
    """A JSON answer that is never cached."""
    return JSONResponse(payload, status, headers=NO_STORE)


def csv_response(text: str, filename: str) -> Response:
    """A CSV download from the API (never cached)."""
    return csv_download(text, filename, NO_STORE)


def wants_csv(request: Request, args: dict[str, Any]) -> bool:
    """format=csv, or no format and an Accept header that prefers text/csv."""
    if args.get("format"):
        return bool(args["format"] == "csv")
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


async def read_json(request: Request) -> dict[str, Any]:
    """The request's JSON object: 415 unless JSON, 413 over 64 KiB, 400 unless a valid object."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    declared = request.headers.get("content-length", "")
    if (plain_number(declared, 10**18) or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "too_large", f"the body must be at most {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "too_large", f"the body must be at most {MAX_BODY_BYTES} bytes")
    try:
        parsed = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request("the body is not valid JSON (UTF-8)") from exc
    if not isinstance(parsed, dict):
        raise bad_request("the body must be a JSON object")
    return parsed


def page(
    session: Session,
    query: Select[Any],
    id_column: InstrumentedAttribute[int],
    args: dict[str, Any],
    serialize: Callable[[list[Any]], list[dict[str, Any]]],
) -> dict[str, Any]:
    """One page ordered by id: {"data": [...], "next": cursor or null} (pass `next` back as `after`)."""
    limit = args.get("limit") or DEFAULT_LIMIT
    if args.get("after") is not None:
        query = query.where(id_column > args["after"])
    rows = list(session.scalars(query.order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"data": serialize(rows), "next": rows[-1].id if more and rows else None}


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
