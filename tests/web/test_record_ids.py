"""A record id in a URL path is matched by one bounded convertor: an id no id column can hold (beyond 32 bits on
PostgreSQL, beyond 64 bits anywhere) is a 404 on every route, signed in as an admin, never a 500."""

from __future__ import annotations

import re

import pytest
from starlette.convertors import IntegerConvertor
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.ids import MAX_RECORD_ID
from bot.runtime import Runtime
from bot.web.app import create_app
from tests.support.staff import make_user, sign_in

_PARAM = re.compile(r"\{[a-z_]+:([a-z]+)\}")


def _routes_with_ids(client: TestClient) -> list[Route]:
    return [
        route
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route) and {"int", "id"} & set(_PARAM.findall(route.path))
    ]


def test_no_route_takes_an_unbounded_integer(client: TestClient) -> None:
    unbounded = [
        route.path
        for route in client.app.routes  # type: ignore[attr-defined]
        if isinstance(route, Route)
        and any(isinstance(convertor, IntegerConvertor) for convertor in route.param_convertors.values())
    ]
    assert unbounded == []
    assert len(_routes_with_ids(client)) >= 10


@pytest.mark.parametrize("bad_id", [str(MAX_RECORD_ID + 1), "3000000000", str(2**63), "99999999999999999999", "0"])
def test_an_id_no_column_holds_is_a_404(runtime: Runtime, bad_id: str) -> None:
    with TestClient(create_app(runtime, deliver=False), raise_server_exceptions=False) as client:
        csrf = sign_in(client, make_user(runtime, "admin"))
        for route in _routes_with_ids(client):
            path = _PARAM.sub(bad_id, route.path)
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                response = client.request(method, path, data={"csrf_token": csrf}, follow_redirects=False)
                assert response.status_code == 404, (method, route.path, response.status_code)


def test_the_largest_id_is_still_matched(runtime: Runtime) -> None:
    with TestClient(create_app(runtime, deliver=False), raise_server_exceptions=False) as client:
        sign_in(client, make_user(runtime, "admin"))
        response = client.get(f"/dashboard/residents/{MAX_RECORD_ID}")
        assert response.status_code == 404 and "No such resident." in response.text  # the page ran and found none
