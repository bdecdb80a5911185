"""Telegram end to end: a real `loopline serve` process against the Telegram Bot API emulator.

Webhook mode (the server registers its webhook with a secret token at start) and polling mode.
The resident's side is the emulator's user API; the bot's replies are read back from it.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import (
    AREA_PROMPT,
    CONSENT_PROMPT,
    FINISH,
    HELP,
    LANGUAGES,
    MENU_PROMPT,
    NO_LABEL,
    RESTARTED,
    STOPPED,
    WELCOME,
    YES_LABEL,
    base_env,
    bot_replies,
    buttons,
    expected,
    message_text,
    press,
    query,
    sqlite_engine,
    wait_until,
)
from tests.support.peers import TelegramEmulator, free_port, loopline_server, telegram_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def _token() -> str:
    """A token shaped like BotFather's: digits, a colon, 35 characters of A-Za-z0-9_-."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)[:35]}"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TelegramEmulator]:
    # DEBUG makes the emulator log every Bot API request it receives (its `debug` request logger):
    # the only way to see setWebhook and answerCallbackQuery calls, which it stores nowhere.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEBUG", "TelegramServer:request")
        with telegram_emulator(log_dir=tmp_path_factory.mktemp("telegram")) as emulator:
            patch.delenv("DEBUG")
            yield emulator


def _bot_calls(emu: TelegramEmulator, token: str, method: str) -> list[str]:
    """The emulator's request-log lines of Bot API calls `method` made with `token`."""
    needle = f'"url":"/bot{token}/{method}'
    return [line for line in emu.log_text().splitlines() if needle in line]


def _update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "B", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 5000 + update_id % 1000,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "B"},
            "from": user,
            "text": text,
        },
    }


def test_webhook_conversation_in_spanish(emu: TelegramEmulator, tmp_path: Path) -> None:
    token, secret = _token(), secrets.token_urlsafe(24)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    database = tmp_path / "e2e.db"
    env = base_env(
        database,
        LOOPLINE_TELEGRAM_TOKEN=token,
        LOOPLINE_TELEGRAM_SECRET=secret,
        LOOPLINE_TELEGRAM_API_BASE=emu.base_url,
        LOOPLINE_PUBLIC_URL=public_url,
        LOOPLINE_TELEGRAM_MODE="webhook",
    )
    chat = 7
    with loopline_server(env, port=port, log_dir=tmp_path) as server:
        # The server registered its webhook, with our secret, before it answered /healthz.
        assert f"telegram (webhook {public_url}{WEBHOOK_PATH})" in server.log_text()
        (registration,) = _bot_calls(emu, token, "setWebhook")
        assert f"{public_url}{WEBHOOK_PATH}" in registration
        assert secret in registration

        # A Spanish-speaking resident writes for the first time: the language menu.
        emu.send_message(token, chat, "hola", language_code="es")
        (menu,) = bot_replies(emu, token, chat, 1)
        assert message_text(menu) == expected("es", MENU_PROMPT)
        assert buttons(menu) == list(LANGUAGES)

        # Presses "Español": the consent question, with two buttons.
        emu.send_callback(token, chat, press(menu, "es"), menu["messageId"], language_code="es")
        (consent,) = bot_replies(emu, token, chat, 1)
        assert message_text(consent) == expected("es", CONSENT_PROMPT)
        assert buttons(consent) == [("yes", expected("es", YES_LABEL)), ("no", expected("es", NO_LABEL))]

        # Presses "yes": welcome, then the (optional) area question.
        emu.send_callback(token, chat, press(consent, "yes"), consent["messageId"], language_code="es")
        welcome, area = bot_replies(emu, token, chat, 2)
        assert message_text(welcome) == expected("es", WELCOME)
        assert message_text(area) == expected("es", AREA_PROMPT)
        assert buttons(welcome) == [] and buttons(area) == []

        emu.send_message(token, chat, "94110", language_code="es")
        (finish,) = bot_replies(emu, token, chat, 1)
        assert message_text(finish) == expected("es", FINISH)

        # Both button presses were answered (the spinner stops), and nothing else was.
        assert len(_bot_calls(emu, token, "answerCallbackQuery")) == 2

        # STOP in Spanish: one confirmation; then silence, except for HELP and START.
        emu.send_message(token, chat, "ALTO", language_code="es")
        (stopped,) = bot_replies(emu, token, chat, 1)
        assert message_text(stopped) == expected("es", STOPPED)

        emu.send_message(token, chat, "hola", language_code="es")
        time.sleep(2.0)
        assert emu.updates(token, chat) == []

        emu.send_message(token, chat, "AYUDA", language_code="es")
        (help_reply,) = bot_replies(emu, token, chat, 1)
        assert message_text(help_reply) == expected("es", HELP)

        emu.send_message(token, chat, "START", language_code="es")
        (restarted,) = bot_replies(emu, token, chat, 1)
        assert message_text(restarted) == expected("es", RESTARTED)

        # The webhook refuses requests without the right secret token.
        url = f"{server.base_url}{WEBHOOK_PATH}"
        forged = _update(900_001, chat, "forged")
        with httpx.Client(timeout=5.0, trust_env=False) as client:
            assert client.post(url, json=forged).status_code == 403
            wrong = client.post(url, json=forged, headers={SECRET_HEADER: secret + "x"})
            assert wrong.status_code == 403
            assert client.post(url, json=forged, headers={SECRET_HEADER: ""}).status_code == 403

            # Telegram retries a delivery it thinks failed: the same update twice gets one reply.
            duplicate = json.dumps(_update(900_002, 8, "hi"))
            headers = {SECRET_HEADER: secret, "Content-Type": "application/json"}
            for _ in range(2):
                assert client.post(url, content=duplicate, headers=headers).status_code == 200
        (only,) = bot_replies(emu, token, 8, 1, settle=1.0)
        assert message_text(only) == expected("en", MENU_PROMPT)
        assert emu.updates(token, chat) == []  # the forged updates got no answer
        assert emu.webhook_failures() == []

    # Every message of the resident is stored, inbound, in order (button presses as their data).
    engine = sqlite_engine(database)
    try:
        inbound = query(
            engine,
            "SELECT text, provider_id FROM messages WHERE channel = 'telegram' AND address = :a "
            "AND direction = 'in' ORDER BY id",
            a=str(chat),
        )
        assert [row["text"] for row in inbound] == [
            "hola", "ask_language|es", "ask_consent|yes", "94110", "ALTO", "hola", "AYUDA", "START",
        ]  # fmt: skip
        assert len({row["provider_id"] for row in inbound}) == len(inbound)
        assert "forged" not in {row["text"] for row in query(engine, "SELECT text FROM messages")}
        outbound = query(
            engine,
            "SELECT text FROM messages WHERE channel = 'telegram' AND address = :a AND direction = 'out'",
            a=str(chat),
        )
        assert len(outbound) == 8
        twice = query(engine, "SELECT direction FROM messages WHERE channel = 'telegram' AND address = '8' ORDER BY id")
        assert [row["direction"] for row in twice] == ["in", "out"]
        (resident,) = query(
            engine,
            "SELECT r.locale, r.consent, r.area FROM residents r JOIN addresses a ON a.resident_id = r.id "
            "WHERE a.channel = 'telegram' AND a.value = :a",
            a=str(chat),
        )
        assert resident == {"locale": "es", "consent": "granted", "area": "94110"}
    finally:
        engine.dispose()


def test_polling_mode_answers_with_the_language_menu(emu: TelegramEmulator, tmp_path: Path) -> None:
    token = _token()
    env = base_env(
        tmp_path / "e2e.db",
        LOOPLINE_TELEGRAM_TOKEN=token,
        LOOPLINE_TELEGRAM_API_BASE=emu.base_url,
        LOOPLINE_TELEGRAM_MODE="polling",
    )
    with loopline_server(env, log_dir=tmp_path) as server:
        assert "telegram (polling)" in server.log_text()
        wait_until(lambda: _bot_calls(emu, token, "getUpdates"), timeout=10.0)
        emu.send_message(token, 11, "hi", language_code="en")
        (menu,) = bot_replies(emu, token, 11, 1, settle=1.0)
        assert message_text(menu) == expected("en", MENU_PROMPT)
        assert buttons(menu) == list(LANGUAGES)
        assert _bot_calls(emu, token, "setWebhook") == []
