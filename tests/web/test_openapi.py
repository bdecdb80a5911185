"""The OpenAPI document describes exactly the API the app serves: every route, its parameters and its schemas."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.runtime import Runtime
from tests.support.staff import api_token, make_user

METHODS = ("get", "post", "put", "patch", "delete")
REQUIRED_SCHEMAS = ("Resident", "Poll", "Event", "Broadcast", "InputItem", "Decision", "Results", "Error")


def served(client: TestClient) -> set[tuple[str, str]]:
    """(method, path) of every /api/v1 route of the app that belongs in the document."""
    found = set()
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.include_in_schema and route.path.startswith("/api/v1"):
            found |= {(method.lower(), route.path) for method in (route.methods or set()) - {"HEAD"}}
    return found


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in METHODS}


def refs(node: Any) -> Iterator[str]:
    """Every $ref anywhere in the document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def test_every_route_is_documented_and_every_documented_route_is_served(client: TestClient) -> None:
    response = client.get("/api/v1/openapi.json")  # public: no token
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    document = response.json()
    routes = served(client)
    assert len(routes) >= 16
    assert routes == documented(document)
    assert ("patch", "/api/v1/input-items/{ref}") in routes


def test_document_is_complete_and_consistent(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0" and document["info"]["title"]
    components = document["components"]
    assert components["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": components["securitySchemes"]["bearerAuth"]["description"],
    }
    assert document["security"] == [{"bearerAuth": []}]
    for name in REQUIRED_SCHEMAS:
        assert components["schemas"][name]["type"] == "object" or "allOf" in components["schemas"][name], name
    for target in set(refs(document)):
        section, name = re.fullmatch(r"#/components/(schemas|responses)/(\w+)", target).groups()  # type: ignore[union-attr]
        assert name in components[section], target
    operation_ids = []
    for path, item in document["paths"].items():
        for method, op in item.items():
            operation_ids.append(op["operationId"])
            assert op["summary"] and "200" in op["responses"], (method, path)
            in_path = set(re.findall(r"\{(\w+)\}", path))
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert in_path == declared, (method, path)
            assert all(p["required"] for p in op["parameters"] if p["in"] == "path")
            if path.endswith("openapi.json"):
                assert op["security"] == []
                continue
            assert {"401", "403"} <= set(op["responses"]), (method, path)
            if method == "patch":
                assert op["requestBody"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/InputItemChange"
                }
                assert {"413", "415"} <= set(op["responses"])
    assert len(operation_ids) == len(set(operation_ids))
    csv_routes = [
        p for p, item in document["paths"].items() if "text/csv" in item["get"]["responses"]["200"]["content"]
    ]
    assert sorted(csv_routes) == ["/api/v1/input-items", "/api/v1/polls/{slug}/results"]


def test_documented_query_parameters_are_exactly_those_accepted(client: TestClient, runtime: Runtime) -> None:
    token = api_token(runtime, make_user(runtime, "admin"))
    headers = {"Authorization": f"Bearer {token}"}
    document = client.get("/api/v1/openapi.json").json()
    checked = 0
    for path, item in document["paths"].items():
        op = item.get("get")
        if op is None or "{" in path or path.endswith("openapi.json"):
            continue
        assert client.get(f"{path}?undocumented=1", headers=headers).status_code == 400, path
        for parameter in op["parameters"]:
            schema = parameter["schema"]
            value = (
                schema["enum"][0]
                if "enum" in schema
                else schema.get("minimum", 1)
                if schema["type"] == "integer"
                else "2026-01-01T00:00:00Z"
                if schema.get("format") == "date-time"
                else "health-priorities"
            )
            response = client.get(path, params={parameter["name"]: value}, headers=headers)
            assert response.status_code == 200, (path, parameter["name"], value, response.text)
            checked += 1
    assert checked >= 20


def _ecma(pattern: str) -> str:
    """A pattern read as JSON Schema reads it (ECMA-262): `$` is the end of the text, where Python's `$` also matches
    before a last newline ("0\n" would pass)."""
    return pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern


@given(st.text(max_size=30))
def test_what_the_schema_allows_the_handlers_accept(text: str) -> None:
    """The document's patterns say exactly what the handlers take: a free-text parameter, a reason, a tag."""
    from bot.engagement.feedback import triage
    from bot.web.api.operations import PRINTABLE, ApiError, Param
    from bot.web.api.schemas import NOT_BLANK

    param = Param("q", "string", "search", max_length=120)
    try:
        param.parse(text)
        accepted = True
    except ApiError:
        accepted = False
    assert accepted == (re.search(_ecma(PRINTABLE), text) is not None)
    blank = re.search(_ecma(NOT_BLANK), text) is None
    try:
        triage.check_reason(text)
        triage.normalise_tag(text)
        refused = False
    except triage.TriageError:
        refused = True
    assert refused == blank


def test_a_status_the_item_cannot_move_to_is_a_documented_conflict(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    patch = document["paths"]["/api/v1/input-items/{ref}"]["patch"]
    assert patch["responses"]["409"] == {"$ref": "#/components/responses/Conflict"}
    change = document["components"]["schemas"]["InputItemChange"]
    assert change["dependentRequired"] == {"status": ["reason"], "reason": ["status"]}
    dates = [p for op in document["paths"].values() for o in op.values() for p in o["parameters"]]
    assert all(p["schema"].get("pattern") for p in dates if p["schema"].get("format") == "date-time")
