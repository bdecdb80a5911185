"""Fetching a file a resident sent from its provider, stopping at the size limit while the bytes stream in: Twilio's
media URLs (HTTP Basic with the account's SID and token, then a redirect to its storage, where the credentials are not
sent) and Telegram's files (getFile, then the file URL)."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from bot.ids import plain_number

if TYPE_CHECKING:
    import httpx

TWILIO_HOSTS = ("api.twilio.com",)


class FetchError(Exception):
    """Why a file was not fetched: permanent (refused: too large, not an accepted kind, not the provider's URL) or
    passing (the network, the provider busy), when it is tried again later."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason[:200]
        self.permanent = permanent


class Fetcher(Protocol):
    """Gets one file's bytes from a provider, at most `limit` of them, with the batch's HTTP client."""

    async def fetch(self, client: httpx.AsyncClient, source: str, limit: int) -> bytes:
        """The file's bytes; FetchError when it cannot be had (now, or ever)."""


def too_large(limit: int) -> FetchError:
    """The refusal of a file over the limit."""
    return FetchError(f"larger than the limit of {round(limit / 1024 / 1024, 2):g} MB", permanent=True)


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process (loading the system's certificates costs ~30 ms)."""
    return ssl.create_default_context()


def http_client() -> httpx.AsyncClient:
    """A client for one batch of fetches: a redirect or two followed (credentials never sent to another origin)."""
    import httpx  # noqa: PLC0415 (loaded when there is something to fetch)

    timeout = httpx.Timeout(30.0, connect=10.0)
    return httpx.AsyncClient(follow_redirects=True, max_redirects=3, timeout=timeout, verify=_tls())


async def download(client: httpx.AsyncClient, url: str, limit: int, auth: tuple[str, str] | None = None) -> bytes:
    """The body at the URL, read as it streams and abandoned as soon as it passes the limit."""
    import httpx  # noqa: PLC0415 (loaded when there is something to fetch)

    chunks: list[bytes] = []
    try:
        async with client.stream("GET", url, auth=auth) as response:
            status = response.status_code
            if status in (404, 408, 429) or status >= 500:  # Twilio's media may lag its webhook; busy; down
                raise FetchError(f"the provider answered HTTP {status}", permanent=False)
            if status >= 300:
                raise FetchError(f"the provider answered HTTP {status}", permanent=status not in (401, 403))
            length = plain_number(response.headers.get("content-length", ""), 2**62)
            if length is not None and length > limit:
                raise too_large(limit)
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > limit:
                    raise too_large(limit)
                chunks.append(chunk)
    except httpx.TooManyRedirects as exc:
        raise FetchError("too many redirects", permanent=True) from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"network error ({type(exc).__name__})", permanent=False) from exc
    return b"".join(chunks)


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port


class TwilioMedia:
    """Twilio's media URLs (MMS and WhatsApp), with the account's credentials, and only Twilio's: a URL elsewhere
    would get neither the request nor the credentials."""

    def __init__(self, account_sid: str, auth_token: str, api_base: str | None) -> None:
        self.auth = (account_sid, auth_token)
        self.origins: set[tuple[str, int | None]] = {(host, None) for host in TWILIO_HOSTS}
        self.origins |= {(host, 443) for host in TWILIO_HOSTS}
        if api_base:  # a local stand-in for Twilio (tests, a mock)
            self.origins.add(_origin(api_base))

    async def fetch(self, client: httpx.AsyncClient, source: str, limit: int) -> bytes:
        """The media's bytes."""
        parts = urlsplit(source)
        twilio = parts.scheme == "https" and (parts.hostname or "").lower().endswith(".twilio.com")  # regional too
        if not twilio and (parts.scheme not in ("http", "https") or _origin(source) not in self.origins):
            raise FetchError("not a Twilio media URL", permanent=True)
        return await download(client, source, limit, self.auth)


class TelegramMedia:
    """Telegram's files: getFile names the file's URL (which holds the bot's token: never logged), then a download."""

    def __init__(self, file_url: Callable[[str], Awaitable[str]]) -> None:
        self.file_url = file_url

    async def fetch(self, client: httpx.AsyncClient, source: str, limit: int) -> bytes:
        """The file's bytes."""
        from telegram.error import BadRequest, TelegramError  # noqa: PLC0415 (loaded with the Telegram adapter)

        try:
            url = await self.file_url(source)
        except BadRequest as exc:  # an unknown file id, or one over the Bot API's 20 MB
            raise FetchError(f"Telegram has no such file to give ({type(exc).__name__})", permanent=True) from exc
        except TelegramError as exc:
            raise FetchError(f"Telegram did not answer getFile ({type(exc).__name__})", permanent=False) from exc
        return await download(client, url, limit)
