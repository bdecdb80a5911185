"""A test-side front for the Telegram Bot API emulator, which does not implement getFile: it answers getFile and
/file/bot<token>/<path> itself from the files a test gave it, and forwards every other call to the emulator unchanged
(or answers 404 when there is no emulator behind it)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.support.loopback import QuietHandler, serving

_GET_FILE = re.compile(r"^/bot[^/]+/getFile/?$")
_FILE = re.compile(r"^/file/bot[^/]+/(.+)$")
_GET_UPDATES = re.compile(r"^/bot[^/]+/getUpdates/?$")
_FILE_ID = re.compile(rb'name="file_id"\r\n\r\n([^\r]+)')


@dataclass
class TelegramFiles:
    """The files this front serves, by file_id, and what it was asked."""

    url: str = ""
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # file_id -> (file_path, bytes)
    asked: list[str] = field(default_factory=list)
    injected: list[dict[str, Any]] = field(default_factory=list)  # updates the emulator cannot make (a photo)

    def inject(self, update: dict[str, Any]) -> None:
        """Hand this update to the bot with its next getUpdates, after what the emulator has (polling mode)."""
        self.injected.append(update)

    def add(self, file_id: str, data: bytes, path: str = "") -> None:
        """Serve these bytes for the file id."""
        self.files[file_id] = (path or f"photos/{file_id}.jpg", data)


def _file_id(body: bytes, content_type: str) -> str:
    if "json" in content_type:
        return str(json.loads(body or b"{}").get("file_id", ""))
    if "multipart" in content_type:
        found = _FILE_ID.search(body)
        return found.group(1).decode() if found else ""
    return parse_qs(body.decode()).get("file_id", [""])[0]


def _handler(front: TelegramFiles, upstream: str | None) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            self._handle(self._body())

        def _handle(self, body: bytes) -> None:
            if _GET_FILE.match(self.path.split("?")[0]):
                file_id = (
                    _file_id(body, self.headers.get("Content-Type", ""))
                    or parse_qs(self.path.partition("?")[2]).get("file_id", [""])[0]
                )
                front.asked.append(f"getFile {file_id}")
                if file_id not in front.files:
                    return self._json(
                        400, {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
                    )
                path, data = front.files[file_id]
                result = {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "file_size": len(data),
                    "file_path": path,
                }
                return self._json(200, {"ok": True, "result": result})
            found = _FILE.match(self.path)
            if found:
                front.asked.append(f"file {found.group(1)}")
                data = next((d for p, d in front.files.values() if p == found.group(1)), None)
                return self.answer(200 if data else 404, data or b"", "application/octet-stream")
            self._forward(body)

        def _forward(self, body: bytes) -> None:
            if upstream is None:
                return self.answer(404, b"", "text/plain")
            if _GET_UPDATES.match(self.path.split("?")[0]) and front.injected:
                return self._with_injected(body)
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("content-type", "x-telegram-bot-api-secret-token")
            }
            request = urllib.request.Request(
                upstream + self.path, data=body or None, headers=headers, method=self.command
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    self.answer(answer.status, answer.read(), answer.headers.get("Content-Type", "application/json"))
            except urllib.error.HTTPError as exc:
                self.answer(exc.code, exc.read(), exc.headers.get("Content-Type", "application/json"))

        def _with_injected(self, body: bytes) -> None:
            headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
            request = urllib.request.Request(upstream + self.path, data=body or None, headers=headers, method="POST")  # type: ignore[operator]
            with urllib.request.urlopen(request, timeout=30) as answer:
                payload = json.loads(answer.read())
            payload["result"] = [*payload.get("result", []), *front.injected]
            front.injected.clear()
            self._json(200, payload)

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self.answer(status, json.dumps(payload).encode(), "application/json")

    return Handler


@contextmanager
def telegram_files(upstream: str | None = None) -> Iterator[TelegramFiles]:
    """The front on a free loopback port while the block runs."""
    front = TelegramFiles()
    with serving(_handler(front, upstream)) as (front.url,):
        yield front
