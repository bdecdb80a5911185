"""Real third-party peers and the Loopline server as subprocesses, for end-to-end tests.

Everything here is plain functions and context managers (no pytest), so it can be used from
fixtures, scripts or a REPL:

    with telegram_emulator() as tg, twilio_mock() as sms:
        with loopline_server({"LOOPLINE_DATABASE_URL": url, ...}) as srv:
            tg.send_message(TOKEN, 7, "hola", language_code="es")
            replies = tg.wait_for_updates(TOKEN, 7)
            sent = sms.wait_for_requests(1)

The peers live in `<repo>/.peers` (installed by `.ci/install-peers` from `../shared/peers`);
`ensure_peers_installed()` runs that script once per process when needed. Each process runs in
its own process group with its output in a log file; startup failures raise `PeerError` with
the tail of that log.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

__all__ = [
    "PEERS_DIR",
    "REPO_ROOT",
    "TEST_ACCOUNT_SID",
    "TEST_AUTH_TOKEN",
    "AsyncPrismHttpClient",
    "LooplineServer",
    "PeerError",
    "PrismHttpClient",
    "PrismRequest",
    "TelegramEmulator",
    "TwilioMock",
    "ensure_peers_installed",
    "free_port",
    "loopline_server",
    "rewrite_url",
    "sign_twilio",
    "telegram_emulator",
    "twilio_mock",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
PEERS_DIR = REPO_ROOT / ".peers"
SHARED_PEERS_DIR = REPO_ROOT.parent / "shared" / "peers"
INSTALL_SCRIPT = REPO_ROOT / ".ci" / "install-peers"
PEER_NAMES = ("telegram", "twilio")
# Written by .ci/install-peers into node_modules only after `npm ci` succeeded.
_INSTALL_STAMP = "node_modules/.loopline-installed-lock.json"

HOST = "127.0.0.1"
# Prism validates the Account SID against ^AC[0-9a-fA-F]{32}$; the auth token can be anything.
TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TEST_AUTH_TOKEN = "loopline-test-auth-token"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_ADDR_IN_USE = ("EADDRINUSE", "address already in use", "Address already in use")


class PeerError(RuntimeError):
    """A peer (or the Loopline server) could not be installed, started or talked to."""


# --------------------------------------------------------------------------------------------
# Generic helpers
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


_install_lock = threading.Lock()
_installed = False


def _install_needed() -> bool:
    for name in PEER_NAMES:
        stamp = PEERS_DIR / name / _INSTALL_STAMP
        if not stamp.is_file():
            return True
        shared_lock = SHARED_PEERS_DIR / name / "package-lock.json"
        if shared_lock.is_file() and shared_lock.read_bytes() != stamp.read_bytes():
            return True
    return False


def ensure_peers_installed() -> Path:
    """Run `.ci/install-peers` (once per process) unless `.peers/*` is already installed.

    Returns the `.peers` directory. Raises PeerError if node/npm are missing or the install fails.
    """
    global _installed  # noqa: PLW0603 - one install per process
    with _install_lock:
        if _installed:
            return PEERS_DIR
        if shutil.which("node") is None:
            raise PeerError("`node` is not on PATH: the end-to-end peers need Node.js 20")
        if _install_needed():
            result = subprocess.run(
                [str(INSTALL_SCRIPT)],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if result.returncode != 0:
                raise PeerError(
                    f"{INSTALL_SCRIPT} failed with exit code {result.returncode}:\n"
                    f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
                )
        _installed = True
        return PEERS_DIR


_log_dir_lock = threading.Lock()
_default_log_dir: Path | None = None
_log_counter = itertools.count(1)


def _log_path(log_dir: Path | None, name: str, port: int) -> Path:
    global _default_log_dir  # noqa: PLW0603 - one log folder per process
    if log_dir is None:
        with _log_dir_lock:
            if _default_log_dir is None:
                _default_log_dir = Path(tempfile.mkdtemp(prefix="loopline-e2e-"))
            log_dir = _default_log_dir
    log_dir.mkdir(parents=True, exist_ok=True)
    return log_dir / f"{name}-{port}-{next(_log_counter)}.log"


def _read_log(path: Path) -> str:
    try:
        return _ANSI.sub("", path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return ""


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _http_client() -> httpx.Client:
    # trust_env=False: never send loopback traffic through an HTTP(S)_PROXY from the environment.
    return httpx.Client(timeout=httpx.Timeout(10.0, connect=2.0), trust_env=False)


def _answers(url: str, *, ok_only: bool) -> bool:
    try:
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            response = client.get(url)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 if ok_only else True


class _Process:
    """A subprocess in its own process group, output (stdout+stderr) to a log file."""

    def __init__(self, name: str, argv: Sequence[str], cwd: Path, env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log = log_path.open("wb")
        try:
            self.popen: subprocess.Popen[bytes] = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: we can signal it and its children
            )
        except BaseException:
            self._log.close()
            raise

    def log_text(self) -> str:
        return _read_log(self.log_path)

    def describe_failure(self, what: str) -> str:
        return (
            f"{self.name} {what}\n  command: {' '.join(self.argv)}\n  log: {self.log_path}\n"
            f"--- last lines of the log ---\n{_tail(self.log_text())}"
        )

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = self.popen.poll()
            if code is not None:
                raise PeerError(self.describe_failure(f"exited with code {code} before it was ready"))
            if ready():
                return
            if time.monotonic() > deadline:
                raise PeerError(self.describe_failure(f"was not ready after {timeout:g} s"))
            time.sleep(0.1)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, grace: float) -> None:
        """SIGTERM the process group, SIGKILL it after `grace` seconds; then reap."""
        try:
            if self.popen.poll() is None:
                self._signal_group(signal.SIGTERM)
                try:
                    self.popen.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    self.popen.wait(timeout=10)
            # Children left behind by a leader that exited (the group outlives its leader).
            self._signal_group(signal.SIGKILL)
        finally:
            self._log.close()


def _start_process(
    name: str,
    argv_for: Callable[[int], Sequence[str]],
    *,
    cwd: Path,
    env_for: Callable[[int], Mapping[str, str]],
    ready_for: Callable[[_Process, int], bool],
    port: int | None,
    log_dir: Path | None,
    timeout: float,
    stop_grace: float,
) -> tuple[_Process, int]:
    """Start a server process and wait until it is ready; retry on another port if the one we
    picked got taken in the meantime (only when the caller did not fix the port)."""
    attempts = 1 if port is not None else 3
    for attempt in range(attempts):
        chosen = port if port is not None else free_port()
        proc = _Process(name, argv_for(chosen), cwd, env_for(chosen), _log_path(log_dir, name, chosen))
        try:
            proc.wait_ready(functools.partial(ready_for, proc, chosen), timeout)
        except BaseException:
            proc.stop(grace=stop_grace)
            in_use = any(marker in proc.log_text() for marker in _ADDR_IN_USE)
            if in_use and attempt + 1 < attempts:
                continue
            raise
        return proc, chosen
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Telegram: telegram-test-api 4.2.1 behind ../shared/peers/telegram/server.js
# --------------------------------------------------------------------------------------------


@dataclass
class TelegramEmulator:
    """A running Bot API emulator. Bot side: `bot_api_base`/`file_api_base` for
    python-telegram-bot. Resident side: `send_message`, `send_callback`, `updates`, `history`."""

    host: str
    port: int
    log_path: Path
    _client: httpx.Client = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def bot_api_base(self) -> str:
        """For `telegram.Bot(token, base_url=...)` (the token is appended)."""
        return f"{self.base_url}/bot"

    @property
    def file_api_base(self) -> str:
        """For `telegram.Bot(token, base_file_url=...)`."""
        return f"{self.base_url}/file/bot"

    def log_text(self) -> str:
        return _read_log(self.log_path)

    def webhook_failures(self) -> list[str]:
        """Webhook deliveries that failed (the bot answered > 204 or could not be reached).

        The emulator's user-side routes answer 200 *before* delivering to the webhook, so a failed
        delivery never reaches the caller of `send_message`; it only shows in the emulator log.
        The emulator does not retry it either (real Telegram would)."""
        return [
            line.split("unhandled rejection:", 1)[1].strip()
            for line in self.log_text().splitlines()
            if "unhandled rejection:" in line
        ]

    def _post(self, path: str, body: Mapping[str, Any]) -> Any:
        response = self._client.post(f"{self.base_url}{path}", json=dict(body))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200 or not isinstance(payload, dict) or not payload.get("ok"):
            raise PeerError(f"Telegram emulator {path} answered HTTP {response.status_code}: {response.text[:500]}")
        return payload.get("result")

    @staticmethod
    def _user(user_id: int, first_name: str, language_code: str | None) -> dict[str, Any]:
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code is not None:
            user["language_code"] = language_code
        return user

    @staticmethod
    def _private_chat(chat_id: int, first_name: str) -> dict[str, Any]:
        return {"id": chat_id, "type": "private", "first_name": first_name}

    def send_message(
        self,
        token: str,
        chat_id: int,
        text: str,
        language_code: str | None = "en",
        first_name: str = "A",
        *,
        user_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> None:
        """The resident types `text` in the private chat `chat_id` (user id = chat id by default).

        Like real Telegram, a text starting with "/" gets a `bot_command` entity (so
        python-telegram-bot's CommandHandler matches) unless `entities` is given. Without a
        webhook the update waits for the bot's getUpdates; with one it is POSTed to the bot
        after this call returns (see `webhook_failures`)."""
        message: dict[str, Any] = {
            "botToken": token,
            "date": int(time.time()),
            "text": text,
            "from": self._user(chat_id if user_id is None else user_id, first_name, language_code),
            "chat": self._private_chat(chat_id, first_name),
        }
        if entities is None and text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            entities = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        if entities:
            message["entities"] = entities
        self._post("/sendMessage", message)

    def send_callback(
        self,
        token: str,
        chat_id: int,
        data: str,
        message_id: int,
        language_code: str | None = "en",
        first_name: str = "A",
        *,
        user_id: int | None = None,
        message_text: str | None = None,
    ) -> None:
        """The resident presses an inline button with `callback_data=data` under the bot's
        message `message_id` in the private chat `chat_id`."""
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._private_chat(chat_id, first_name),
        }
        if message_text is not None:
            message["text"] = message_text
        self._post(
            "/sendCallback",
            {
                "botToken": token,
                "data": data,
                "from": self._user(chat_id if user_id is None else user_id, first_name, language_code),
                "message": message,
            },
        )

    def updates(self, token: str, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages to `chat_id` that the resident has not read yet (marks them read).

        Each item: {"time": ms, "botToken", "updateId", "messageId", "isRead",
        "message": {"chat_id": "7" (a string!), "text", "reply_markup"?: {...}, ...}}."""
        result = self._post("/getUpdates", {"token": token, "chatId": chat_id})
        return list(result or [])

    def wait_for_updates(self, token: str, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Poll `updates` until at least `count` unread bot messages arrived; returns them all."""
        collected: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            collected.extend(self.updates(token, chat_id))
            if len(collected) >= count:
                return collected
            if time.monotonic() > deadline:
                raise PeerError(
                    f"expected {count} bot message(s) to chat {chat_id} within {timeout:g} s, "
                    f"got {len(collected)}: {collected!r}\n--- emulator log ---\n{_tail(self.log_text())}"
                )
            time.sleep(0.1)

    def history(self, token: str) -> list[dict[str, Any]]:
        """Everything for this bot (both directions, read or not), oldest first; user messages
        have a "message" with "chat"/"from", callbacks a "callbackQuery", bot messages a
        "message" with "chat_id"."""
        result = self._post("/getUpdatesHistory", {"token": token})
        return list(result or [])


@contextlib.contextmanager
def telegram_emulator(
    port: int | None = None, *, log_dir: Path | None = None, startup_timeout: float = 30.0
) -> Iterator[TelegramEmulator]:
    """Run `node server.js` from `.peers/telegram` on 127.0.0.1 and yield a TelegramEmulator."""
    peer_dir = ensure_peers_installed() / "telegram"
    node = shutil.which("node") or "node"

    def ready(proc: _Process, chosen: int) -> bool:
        return "telegram-test-api listening on" in proc.log_text() and _answers(
            f"http://{HOST}:{chosen}/bot0:readiness/getMe", ok_only=True
        )

    proc, chosen = _start_process(
        "telegram-emulator",
        lambda _port: [node, "server.js"],
        cwd=peer_dir,
        env_for=lambda p: {**os.environ, "TG_PORT": str(p), "TG_HOST": HOST},
        ready_for=ready,
        port=port,
        log_dir=log_dir,
        timeout=startup_timeout,
        stop_grace=5,
    )
    client = _http_client()
    try:
        yield TelegramEmulator(host=HOST, port=chosen, log_path=proc.log_path, _client=client)
    finally:
        client.close()
        proc.stop(grace=5)


# --------------------------------------------------------------------------------------------
# Twilio: Prism 5.14.2 serving twilio_api_v2010.json
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrismRequest:
    """One request as Prism logged it (Prism runs with `-v debug` so bodies are logged)."""

    method: str  # upper case
    path: str  # as requested, with the query string if any
    headers: dict[str, str]  # lower-case names
    raw_body: str
    status: int | None  # None if Prism answered with one of its own errors (see `error`)
    error: str | None  # e.g. "https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY"

    @property
    def params(self) -> dict[str, str]:
        """The form-encoded body (last value wins for repeated names)."""
        return dict(parse_qsl(self.raw_body, keep_blank_values=True))

    @property
    def basic_auth_user(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if not auth.lower().startswith("basic "):
            return None
        decoded = base64.b64decode(auth[6:]).decode("utf-8", errors="replace")
        return decoded.split(":", 1)[0]

    @property
    def complete(self) -> bool:
        return self.status is not None or self.error is not None


_PRISM_START = re.compile(r"\[HTTP SERVER\] (\w+) (\S+) .*Request received")
_PRISM_HEADER = re.compile(r"\[NEGOTIATOR\].*debug\s+< \t([^:]+): (.*)$")
_PRISM_BODY = re.compile(r"\[NEGOTIATOR\].*debug\s+< Body: (.*)$")
_PRISM_STATUS = re.compile(r"> Status: (\d+)")
_PRISM_ERROR = re.compile(r"Request terminated with error: (\S+?):?(?:\s|$)")


def _parse_prism_log(text: str) -> list[PrismRequest]:
    requests: list[PrismRequest] = []
    current: dict[str, Any] | None = None

    def flush() -> None:
        if current is not None:
            requests.append(PrismRequest(**current))

    for line in text.splitlines():
        if start := _PRISM_START.search(line):
            flush()
            current = {
                "method": start.group(1).upper(),
                "path": start.group(2),
                "headers": {},
                "raw_body": "",
                "status": None,
                "error": None,
            }
            continue
        if current is None:
            continue
        if header := _PRISM_HEADER.search(line):
            current["headers"][header.group(1).strip().lower()] = header.group(2).strip()
        elif (body := _PRISM_BODY.search(line)) and not current["raw_body"] and current["status"] is None:
            current["raw_body"] = body.group(1).strip()
        elif (status := _PRISM_STATUS.search(line)) and current["status"] is None:
            current["status"] = int(status.group(1))
        elif error := _PRISM_ERROR.search(line):
            current["error"] = error.group(1)
    flush()
    return requests


@dataclass
class TwilioMock:
    """A running Prism mock of Twilio's REST API (api.twilio.com/2010-04-01)."""

    host: str
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_text(self) -> str:
        return _read_log(self.log_path)

    def http_client(self) -> PrismHttpClient:
        """A twilio-python http client that sends every request here."""
        return PrismHttpClient(self.base_url)

    def requests(self, path_contains: str | None = None, method: str | None = None) -> list[PrismRequest]:
        """Requests Prism received so far, oldest first (its log may lag by a few ms: prefer
        `wait_for_requests`)."""
        return [
            r
            for r in _parse_prism_log(self.log_text())
            if (path_contains is None or path_contains in r.path) and (method is None or r.method == method.upper())
        ]

    def wait_for_requests(
        self,
        count: int = 1,
        *,
        path_contains: str | None = "/Messages.json",
        method: str | None = "POST",
        timeout: float = 10.0,
    ) -> list[PrismRequest]:
        """Wait until at least `count` matching requests were answered; returns all of them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.requests(path_contains, method) if r.complete]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise PeerError(
                    f"expected {count} {method or ''} request(s) matching {path_contains!r} within "
                    f"{timeout:g} s, got {len(found)}\n--- Prism log ---\n{_tail(self.log_text())}"
                )
            time.sleep(0.1)


@contextlib.contextmanager
def twilio_mock(
    port: int | None = None, *, log_dir: Path | None = None, startup_timeout: float = 60.0, dynamic: bool = False
) -> Iterator[TwilioMock]:
    """Run `prism mock -h 127.0.0.1 -p PORT twilio_api_v2010.json` from `.peers/twilio`.

    Static (the default) answers every request with the spec's example (the same sid each time); dynamic (`-d`)
    generates each answer from the schema, so every message gets its own sid."""
    peer_dir = ensure_peers_installed() / "twilio"
    prism = peer_dir / "node_modules" / ".bin" / "prism"
    base_cmd = [str(prism)] if prism.exists() else ["npx", "--no-install", "prism"]

    def argv(chosen: int) -> list[str]:
        mode = ["-d"] if dynamic else []
        return [*base_cmd, "mock", *mode, "-v", "debug", "-h", HOST, "-p", str(chosen), "twilio_api_v2010.json"]

    def ready(proc: _Process, chosen: int) -> bool:
        # The log line first: a bare "port answers" could be another process on that port.
        return "Prism is listening" in proc.log_text() and _answers(f"http://{HOST}:{chosen}/", ok_only=False)

    proc, chosen = _start_process(
        "twilio-prism",
        argv,
        cwd=peer_dir,
        env_for=lambda _port: {**os.environ, "NO_COLOR": "1"},
        ready_for=ready,
        port=port,
        log_dir=log_dir,
        timeout=startup_timeout,
        stop_grace=5,
    )
    try:
        yield TwilioMock(host=HOST, port=chosen, log_path=proc.log_path)
    finally:
        proc.stop(grace=5)


def rewrite_url(url: str, base_url: str) -> str:
    """Replace scheme and host of `url` with those of `base_url` (whose path, if any, is
    prefixed); path and query of `url` are kept."""
    target = urlsplit(url)
    base = urlsplit(base_url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + target.path, target.query, target.fragment))


class PrismHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """twilio-python's synchronous http client, sending every request (api.twilio.com,
    messaging.twilio.com, ...) to `base_url` instead: `Client(sid, token, http_client=...)`."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")
        if self.session is not None:
            self.session.trust_env = False  # no proxies from the environment for loopback

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method,
            rewrite_url(url, self.base_url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


class AsyncPrismHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """The aiohttp-based variant (`create_async` & co.). Build it inside a running event loop
    and `await client.close()` when done."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return await super().request(
            method,
            rewrite_url(url, self.base_url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def sign_twilio(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The `X-Twilio-Signature` Twilio would send for a form POST of `params` to `url` (the full
    public URL, query string included)."""
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


# --------------------------------------------------------------------------------------------
# Loopline itself: `python -m bot serve`
# --------------------------------------------------------------------------------------------


@dataclass
class LooplineServer:
    host: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_text(self) -> str:
        return _read_log(self.log_path)


@contextlib.contextmanager
def loopline_server(
    env: Mapping[str, str],
    port: int | None = None,
    *,
    cwd: Path | None = None,
    log_dir: Path | None = None,
    startup_timeout: float = 30.0,
    stop_timeout: float = 10.0,
    argv: Sequence[str] | None = None,
) -> Iterator[LooplineServer]:
    """Run `python -m bot serve --host 127.0.0.1 --port PORT` with `env` over os.environ.

    Waits (up to `startup_timeout`) until GET /healthz answers 200. On exit: SIGTERM to the
    process group, SIGKILL after `stop_timeout` s. `cwd` defaults to a fresh temporary folder.
    `argv` replaces the command (the port is appended as `--port PORT`); it exists to test this
    harness itself."""
    workdir = cwd if cwd is not None else Path(tempfile.mkdtemp(prefix="loopline-server-"))

    def command(chosen: int) -> list[str]:
        if argv is not None:
            return [*argv, "--port", str(chosen)]
        return [sys.executable, "-m", "bot", "serve", "--host", HOST, "--port", str(chosen)]

    proc, chosen = _start_process(
        "loopline-server",
        command,
        cwd=workdir,
        env_for=lambda _port: {**os.environ, "PYTHONUNBUFFERED": "1", **env},
        ready_for=lambda _proc, chosen: _answers(f"http://{HOST}:{chosen}/healthz", ok_only=True),
        port=port,
        log_dir=log_dir,
        timeout=startup_timeout,
        stop_grace=stop_timeout,
    )
    try:
        yield LooplineServer(host=HOST, port=chosen, log_path=proc.log_path, process=proc.popen)
    finally:
        proc.stop(grace=stop_timeout)
