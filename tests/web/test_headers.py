"""Every response carries nosniff, whatever made it (a page, the API, a webhook, a static file, a 404, a refusal),
and HSTS exactly when the public address is https: both set by one middleware."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.web.app import create_app
from tests.conftest import make_settings
from tests.web.test_security import _fill

STATIC = "/static/dashboard.css"


def every_request(client: TestClient) -> Iterator[tuple[str, str]]:
    """(method, path) of every route of the app, plus a static file and a path nothing answers."""
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                yield method, _fill(route.path)
        elif isinstance(route, Mount):
            yield "GET", STATIC
    yield "GET", "/no/such/page"


def test_nosniff_on_every_response_and_no_hsts_over_http(client: TestClient) -> None:
    seen = set()
    for method, path in every_request(client):
        response = client.request(method, path, follow_redirects=False)
        seen.add(response.status_code)
        assert response.headers.get("x-content-type-options") == "nosniff", (method, path, response.status_code)
        assert "strict-transport-security" not in response.headers, (method, path)
    assert {200, 303, 401, 403, 404} & seen and len(seen) >= 3, seen


@pytest.fixture
def https_client(database_url: str) -> Iterator[TestClient]:
    runtime = Runtime(make_settings(database_url, LOOPLINE_PUBLIC_URL="https://voices.example.org"))
    runtime.prepare(migrate=True)
    with TestClient(create_app(runtime, deliver=False), base_url="https://testserver") as client:
        yield client
    runtime.close()


def test_hsts_on_every_response_when_the_public_address_is_https(https_client: TestClient) -> None:
    for method, path in every_request(https_client):
        response = https_client.request(method, path, follow_redirects=False)
        assert response.headers.get("strict-transport-security") == "max-age=31536000; includeSubDomains", path
        assert response.headers.get("x-content-type-options") == "nosniff", path


def _fails(request: Request) -> Response:
    raise RuntimeError("a handler that fails")


@pytest.mark.parametrize("public_url", ["http://voices.example.org", "https://voices.example.org"])
def test_a_server_error_carries_the_headers_too(database_url: str, public_url: str) -> None:
    """Starlette turns an exception into a 500 outside any middleware an app lists: the headers must be outside it."""
    runtime = Runtime(make_settings(database_url, LOOPLINE_PUBLIC_URL=public_url))
    runtime.prepare(migrate=True)
    app = create_app(runtime, deliver=False)
    app.router.routes.append(Route("/fails", _fails))  # the only way to reach an unexpected exception on purpose
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/fails")
    runtime.close()
    assert response.status_code == 500
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert ("strict-transport-security" in response.headers) == public_url.startswith("https://")
