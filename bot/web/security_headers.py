"""The headers every response carries, even a 500, set in one place: nosniff, and HSTS when the public URL is https."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = b"max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """ASGI middleware adding the headers to every HTTP response, whatever route, error or static file made it."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = [(b"x-content-type-options", b"nosniff")]
        if https:
            self.headers.append((b"strict-transport-security", HSTS))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _value in message.get("headers", [])}
                extra = [(name, value) for name, value in self.headers if name not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class HeadedApp(Starlette):
    """A Starlette app with SecurityHeaders outside everything: an app's own middleware runs inside the handler that
    turns an unexpected exception into a 500, which would then go out without the headers."""

    def __init__(self, *, https: bool, **options: Any) -> None:
        self.https = https
        super().__init__(**options)

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), https=self.https)
