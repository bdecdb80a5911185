"""Small HTTP stand-ins on loopback for tests: a handler that logs nothing and answers in one call, and servers for
them on free ports while a block runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test's output clean and answers with a whole body at once."""

    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        """One complete answer: status, type, length and body."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serving(*handlers: type[BaseHTTPRequestHandler]) -> Iterator[list[str]]:
    """Each handler served on a free loopback port while the block runs; their base URLs, in order."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), handler) for handler in handlers]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield [f"http://127.0.0.1:{server.server_address[1]}" for server in servers]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
