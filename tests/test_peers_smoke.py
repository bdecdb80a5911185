"""The end-to-end harness (tests/support/peers.py) against the REAL peers: the Telegram Bot API
emulator driven by python-telegram-bot, Prism driven by the twilio client, and Twilio's
signature test vector."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, Update
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support.peers import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    AsyncPrismHttpClient,
    PeerError,
    PrismHttpClient,
    TelegramEmulator,
    TwilioMock,
    loopline_server,
    rewrite_url,
    sign_twilio,
    telegram_emulator,
    twilio_mock,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TelegramEmulator]:
    with telegram_emulator(log_dir=tmp_path_factory.mktemp("telegram")) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwilioMock]:
    with twilio_mock(log_dir=tmp_path_factory.mktemp("prism")) as mock:
        yield mock


def _bot(emu: TelegramEmulator, token: str) -> Bot:
    return Bot(token, base_url=emu.bot_api_base, base_file_url=emu.file_api_base)


# ------------------------------------------------------------------------------------------
# Telegram
# ------------------------------------------------------------------------------------------


def test_bot_message_reaches_the_resident(emu: TelegramEmulator) -> None:
    token = "1001:bot-to-resident"

    async def run() -> tuple[Any, Any]:
        async with _bot(emu, token) as bot:
            return await bot.get_me(), await bot.send_message(7, "hi")

    me, sent = asyncio.run(run())
    assert me.is_bot and me.username == "TestNameBot"
    assert sent.text == "hi" and sent.chat.id == 7 and isinstance(sent.message_id, int)

    unread = emu.updates(token, 7)
    assert [u["message"]["text"] for u in unread] == ["hi"]
    assert unread[0]["message"]["chat_id"] == "7"  # the emulator keeps what the bot posted: a string
    assert unread[0]["messageId"] == sent.message_id
    assert emu.updates(token, 7) == []  # read once
    assert emu.updates(token, 8) == []  # other chats see nothing


def test_resident_message_reaches_the_bot(emu: TelegramEmulator) -> None:
    token = "1002:resident-to-bot"
    emu.send_message(token, 8, "hola", language_code="es", first_name="Ana")
    emu.send_message(token, 8, "/start abc")

    async def run() -> tuple[Update, ...]:
        async with _bot(emu, token) as bot:
            first = await bot.get_updates()
            again = await bot.get_updates()  # the emulator marks updates read: none twice
            assert again == ()
            return first

    updates = asyncio.run(run())
    assert len(updates) == 2
    hola, start = (u.message for u in updates)
    assert hola is not None and start is not None
    assert hola.text == "hola" and hola.chat.id == 8 and hola.chat.type == "private"
    assert hola.from_user is not None and hola.from_user.language_code == "es"
    assert hola.from_user.first_name == "Ana"
    assert start.text == "/start abc"
    assert [(e.type, e.offset, e.length) for e in start.entities] == [(MessageEntity.BOT_COMMAND, 0, 6)]
    assert updates[0].update_id < updates[1].update_id


def test_button_press_reaches_the_bot(emu: TelegramEmulator) -> None:
    token = "1003:callbacks"
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="vote:yes")]])

    async def send() -> int:
        async with _bot(emu, token) as bot:
            sent = await bot.send_message(9, "Agree?", reply_markup=keyboard)
            return sent.message_id

    message_id = asyncio.run(send())
    shown = emu.wait_for_updates(token, 9)
    assert shown[0]["message"]["reply_markup"] == {"inline_keyboard": [[{"text": "Yes", "callback_data": "vote:yes"}]]}

    emu.send_callback(token, 9, "vote:yes", message_id, language_code="fr")

    async def receive() -> Update:
        async with _bot(emu, token) as bot:
            (update,) = await bot.get_updates()
            assert update.callback_query is not None
            await bot.answer_callback_query(update.callback_query.id)
            return update

    update = asyncio.run(receive())
    query = update.callback_query
    assert query is not None and query.data == "vote:yes"
    assert query.from_user.id == 9 and query.from_user.language_code == "fr"
    assert query.message is not None and query.message.message_id == message_id
    assert query.message.chat.id == 9


class _Hook(BaseHTTPRequestHandler):
    status: ClassVar[int] = 200
    received: ClassVar[list[tuple[str | None, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received.append((self.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_webhook_delivery_and_failures(emu: TelegramEmulator) -> None:
    token = "1004:webhook"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/telegram"

        async def set_hook() -> bool:
            async with _bot(emu, token) as bot:
                return await bot.set_webhook(url, secret_token="s3cret_-token")

        assert asyncio.run(set_hook()) is True
        emu.send_message(token, 10, "via hook")
        _wait_until(lambda: len(_Hook.received) == 1)
        secret, body = _Hook.received[0]
        assert secret == "s3cret_-token"
        update = Update.de_json(httpx.Response(200, content=body).json(), None)
        assert update is not None and update.message is not None and update.message.text == "via hook"

        # The user-side call succeeds even when the bot refuses the update; only the log tells.
        _Hook.status = 500
        failures_before = len(emu.webhook_failures())
        emu.send_message(token, 10, "refused")
        _wait_until(lambda: len(emu.webhook_failures()) > failures_before)
        assert "HTTP 500" in emu.webhook_failures()[-1]
    finally:
        _Hook.status = 200
        _Hook.received.clear()
        server.shutdown()
        server.server_close()


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


# ------------------------------------------------------------------------------------------
# Twilio (Prism)
# ------------------------------------------------------------------------------------------


def test_rewrite_url() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=2"
    assert rewrite_url(url, "http://127.0.0.1:4010") == (
        "http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json?PageSize=2"
    )
    assert rewrite_url(url, "http://h:1/prefix/").startswith("http://h:1/prefix/2010-04-01/")


def test_twilio_client_sends_sms_through_prism(prism: TwilioMock) -> None:
    client = Client(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, http_client=PrismHttpClient(prism.base_url))
    message = client.messages.create(to="+15005550006", from_="+15005550001", body="Hello, 5 ünïcode ’")
    assert message.sid.startswith("SM") and len(message.sid) == 34

    sent = prism.wait_for_requests(1)[-1]
    assert sent.status == 201
    assert sent.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"
    assert sent.params == {"To": "+15005550006", "From": "+15005550001", "Body": "Hello, 5 ünïcode ’"}
    assert sent.basic_auth_user == TEST_ACCOUNT_SID


def test_prism_rejects_invalid_requests(prism: TwilioMock) -> None:
    client = Client(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, http_client=PrismHttpClient(prism.base_url))
    # `to` is a required argument of messages.create, so post the form without it directly.
    with pytest.raises(TwilioRestException) as missing_to:
        client.api.v2010.create(
            "POST", f"/Accounts/{TEST_ACCOUNT_SID}/Messages.json", data={"From": "+15005550001", "Body": "x"}
        )
    assert missing_to.value.status == 422

    bad_sid = Client("AC123", TEST_AUTH_TOKEN, http_client=PrismHttpClient(prism.base_url))
    with pytest.raises(TwilioRestException) as bad:
        bad_sid.messages.create(to="+15005550006", from_="+15005550001", body="x")
    assert bad.value.status == 422

    rejected = [r for r in prism.requests("/Messages.json") if r.complete and r.status is None]
    assert rejected and all(r.error and r.error.endswith("UNPROCESSABLE_ENTITY") for r in rejected)


# twilio 9.13's aiohttp client still uses aiohttp's deprecated BasicAuth.
@pytest.mark.filterwarnings("ignore:.*(BasicAuth|'auth' parameter) is deprecated:DeprecationWarning")
def test_async_twilio_client_through_prism(prism: TwilioMock) -> None:
    async def run() -> str:
        http_client = AsyncPrismHttpClient(prism.base_url)
        try:
            client = Client(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, http_client=http_client)
            message = await client.messages.create_async(to="+15005550007", from_="+15005550001", body="async hello")
            return str(message.sid)
        finally:
            await http_client.close()

    assert asyncio.run(run()).startswith("SM")
    assert prism.wait_for_requests(1)[-1].params["Body"] == "async hello"


def test_sign_twilio_matches_the_documented_vector() -> None:
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675309",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert sign_twilio("12345", url, params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


# ------------------------------------------------------------------------------------------
# The server harness, with a stand-in until `loopline serve` exists
# ------------------------------------------------------------------------------------------

_STAND_IN = """
import signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

if "--ignore-term" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("stand-in starting", flush=True)
HTTPServer(("127.0.0.1", int(sys.argv[-1])), H).serve_forever()
"""


def test_server_harness_with_a_stand_in(tmp_path: Path) -> None:
    script = tmp_path / "stand_in.py"
    script.write_text(_STAND_IN)
    with loopline_server({}, argv=[sys.executable, str(script)], log_dir=tmp_path) as server:
        assert httpx.get(f"{server.base_url}/healthz", trust_env=False).status_code == 200
        assert "stand-in starting" in server.log_text()
    assert server.process.returncode is not None

    # A server that ignores SIGTERM is killed after stop_timeout.
    argv = [sys.executable, str(script), "--ignore-term"]
    with loopline_server({}, argv=argv, log_dir=tmp_path, stop_timeout=1) as stubborn:
        pass
    assert stubborn.process.returncode == -9

    # A server that dies at startup: PeerError with the log tail.
    with (
        pytest.raises(PeerError, match="exited with code 3") as failed,
        loopline_server({}, argv=[sys.executable, "-c", "print('boom'); raise SystemExit(3)"]),
    ):
        pass
    assert "boom" in str(failed.value)


def test_loopline_server_answers_healthz(tmp_path: Path) -> None:
    env = {"LOOPLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'loopline.db'}"}
    with loopline_server(env, log_dir=tmp_path) as server:
        response = httpx.get(f"{server.base_url}/healthz", trust_env=False)
        assert response.status_code == 200
