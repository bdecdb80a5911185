"""Test helpers for residents' files: real image bytes, a resident sending files through the real pipeline, and
Twilio's media hosting on loopback as Twilio runs it (the media URL wants HTTP Basic with the account's SID and
token, then redirects once to storage on another origin, which must not receive the credentials)."""

from __future__ import annotations

import base64
import itertools
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from bot.messages import Address, Channel, Inbound, MediaRef
from bot.pipeline.orchestrator import Handled
from bot.runtime import Runtime
from tests.support.loopback import QuietHandler, serving

_ids = itertools.count(1)


def png(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (200, 60, 30)) -> bytes:
    """A real PNG image (one colour), decodable by any browser."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


OGG_OPUS = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead" + b"\x01\x01" + b"\x00" * 200
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
HTML = b"<!doctype html><script>alert(1)</script>"


def send_media(
    runtime: Runtime, channel: Channel, address: str, media: tuple[MediaRef, ...], text: str = ""
) -> Handled:
    """A resident's message with files, handled by the real pipeline (answered inline, as SMS is)."""
    inbound = Inbound(Address(channel, address), text, f"media-{next(_ids)}", runtime.clock.now(), media=media)
    return runtime.pipeline.handle(inbound, reply_inline=channel is not Channel.TELEGRAM)


@dataclass
class TwilioMediaHost:
    """Twilio's media URLs on loopback: /2010-04-01/Accounts/AC…/Messages/MM…/Media/ME… (Basic auth, then a
    redirect) and the storage origin the redirect leads to."""

    account_sid: str
    auth_token: str
    api: str = ""
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)  # a status to answer instead, per media name
    seen_auth: list[bool] = field(default_factory=list)  # the API: whether each request had the right credentials
    storage_saw_auth: list[bool] = field(default_factory=list)  # the storage origin: must stay all False
    storage: str = ""

    def add(self, name: str, data: bytes, content_type: str = "image/png") -> MediaRef:
        """Host a file; the MediaRef a webhook would carry for it."""
        self.files[name] = (data, content_type)
        url = f"{self.api}/2010-04-01/Accounts/{self.account_sid}/Messages/MM{name}/Media/ME{name}"
        return MediaRef(url, content_type)


def _handler(host: TwilioMediaHost, role: str) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{host.account_sid}:{host.auth_token}".encode()).decode()

    class Handler(QuietHandler):
        def do_POST(self) -> None:  # a message sent through the REST API (answered as queued)
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            sid = "SM" + "0" * 32
            self.answer(201, f'{{"sid": "{sid}", "status": "queued"}}'.encode(), "application/json")

        def do_GET(self) -> None:
            name = self.path.rsplit("/ME", 1)[-1] if role == "api" else self.path.rsplit("/", 1)[-1]
            if role == "api" and "/Media/" not in self.path:  # the account, as a sender warming up fetches it
                body = f'{{"sid": "{host.account_sid}", "status": "active"}}'.encode()
                self.answer(200, body, "application/json")
                return
            if role == "api":
                authorised = self.headers.get("Authorization") == expected
                host.seen_auth.append(authorised)
                if not authorised:
                    self.answer(401, b"unauthorised")
                elif name in host.answers:
                    self.answer(host.answers[name], b"no")
                else:  # as Twilio does: to the file in its storage, on another origin
                    self.send_response(307)
                    self.send_header("Location", f"{host.storage}/media/{name}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                return
            host.storage_saw_auth.append("Authorization" in self.headers)
            data, content_type = host.files.get(name, (b"", ""))
            self.answer(200 if data else 404, data, content_type)

    return Handler


@contextmanager
def twilio_media_host(account_sid: str, auth_token: str) -> Iterator[TwilioMediaHost]:
    """Both origins served on free loopback ports while the block runs."""
    host = TwilioMediaHost(account_sid, auth_token)
    with serving(_handler(host, "api"), _handler(host, "storage")) as (host.api, host.storage):
        yield host


class HostedFiles:
    """A provider's files by their source (for pages tests that need stored files, not a provider's manners)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    async def fetch(self, client: Any, source: str, limit: int) -> bytes:
        """The bytes given for the source (a file not given yet is on its way)."""
        from bot.media.fetching import FetchError

        if source not in self.files:
            raise FetchError("the provider answered HTTP 404", permanent=False)
        return self.files[source]


def store_files(runtime: Runtime, channel: Channel, files: dict[str, bytes]) -> dict[str, int]:
    """Run the real media worker once, with these files at the provider."""
    import asyncio

    from bot.media.worker import MediaWorker

    worker = MediaWorker(
        runtime.db,
        runtime.storage,
        {channel.value: HostedFiles(files)},
        runtime.clock,
        runtime.settings.media.max_bytes,
    )
    return asyncio.run(worker.run_once())
