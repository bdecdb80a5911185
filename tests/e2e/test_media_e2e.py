"""Residents' photos end to end: a real `loopline serve` process; a Telegram resident (the Bot API emulator, behind a
test-side front that answers getFile and the file URL, which the emulator lacks, and hands the bot the photo update
the emulator cannot make) and an SMS resident (signed Twilio webhooks; the MMS image on Twilio-like hosting that wants
Basic auth and redirects once) each send a photo alone as their feedback. The serve process fetches and stores both in
the background; staff see both images in the inbox in Chromium (visible, decoded: natural width > 0), screenshots
kept and checked; then erasing each resident (the dashboard's form, and the command line) removes their file."""

from __future__ import annotations

import re
import secrets
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard_helpers import bot_token, sign_in_page
from tests.e2e import base_env, clean_os_env, query, sqlite_engine, wait_until
from tests.support.media import TwilioMediaHost, png, twilio_media_host
from tests.support.peers import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    LooplineServer,
    TelegramEmulator,
    free_port,
    loopline_server,
    sign_twilio,
    telegram_emulator,
)
from tests.support.staff import PASSWORD
from tests.support.telegram_files import TelegramFiles, telegram_files

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SMS_PATH = "/webhooks/twilio/sms"
OUR_NUMBER = "+15005550006"
SMS_RESIDENT = "+14155550163"
CHAT_ID = 730125577
ADMIN = "media-admin@health.example"


@dataclass
class World:
    server: LooplineServer
    emulator: TelegramEmulator
    front: TelegramFiles
    host: TwilioMediaHost
    token: str
    public_url: str
    database: Path
    media: Path

    def text(self, number: str, body: str, media: tuple[str, str] | None = None) -> str:
        """The SMS resident texts (with an MMS file); the TwiML answer."""
        sid = "MM" + secrets.token_hex(16)
        form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": TEST_ACCOUNT_SID, "From": number, "To": OUR_NUMBER}
        form.update(Body=body, NumMedia="1" if media else "0")
        if media:
            form.update(MediaUrl0=media[0], MediaContentType0=media[1])
        signature = sign_twilio(TEST_AUTH_TOKEN, f"{self.public_url}{SMS_PATH}", form)
        with httpx.Client(timeout=15.0, trust_env=False) as client:
            answer = client.post(
                f"{self.server.base_url}{SMS_PATH}", data=form, headers={"X-Twilio-Signature": signature}
            )
        assert answer.status_code == 200, answer.text
        return answer.text

    def telegram(self, text: str, expect_words: str) -> None:
        """The Telegram resident types; wait for the bot's answer containing those words."""
        self.emulator.send_message(self.token, CHAT_ID, text)
        self.wait_for_bot(expect_words)

    def wait_for_bot(self, words: str) -> None:
        def said() -> bool:
            return any(words in str(u["message"].get("text")) for u in self.emulator.updates(self.token, CHAT_ID))

        wait_until(said, timeout=20.0, interval=0.2)

    def stored_files(self) -> list[Path]:
        return sorted(p for p in self.media.rglob("*") if p.is_file())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    token = bot_token()
    with (
        telegram_emulator(log_dir=tmp_path) as emulator,
        telegram_files(upstream=emulator.base_url) as front,
        twilio_media_host(TEST_ACCOUNT_SID, TEST_AUTH_TOKEN) as host,
    ):
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        env = base_env(
            tmp_path / "e2e.db",
            LOOPLINE_PUBLIC_URL=public_url,
            LOOPLINE_TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
            LOOPLINE_TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
            LOOPLINE_TWILIO_FROM=OUR_NUMBER,
            LOOPLINE_TWILIO_API_BASE=host.api,
            LOOPLINE_TELEGRAM_TOKEN=token,
            LOOPLINE_TELEGRAM_SECRET="media-e2e-secret",
            LOOPLINE_TELEGRAM_MODE="polling",
            LOOPLINE_TELEGRAM_API_BASE=front.url,
            LOOPLINE_MEDIA_DIR=str(tmp_path / "media"),
            LOOPLINE_MEDIA_MAX_MB="5",
        )
        with loopline_server(env, port=port, log_dir=tmp_path) as server:
            yield World(server, emulator, front, host, token, public_url, tmp_path / "e2e.db", tmp_path / "media")


def _photo_update(update_id: int) -> dict[str, Any]:
    user = {"id": CHAT_ID, "is_bot": False, "first_name": "Minh", "language_code": "en"}
    sizes = [
        {"file_id": "tg-thumb", "file_unique_id": "t", "width": 90, "height": 60, "file_size": 300},
        {"file_id": "tg-photo", "file_unique_id": "p", "width": 160, "height": 120, "file_size": len(png(160, 120))},
    ]
    message = {
        "message_id": 77,
        "date": int(time.time()),
        "chat": {"id": CHAT_ID, "type": "private", "first_name": "Minh"},
        "from": user,
        "photo": sizes,
    }
    return {"update_id": update_id, "message": message}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), "the screenshot is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _check_image(page: Page, ref: int, shots: Path, name: str) -> None:
    page.goto(f"/dashboard/inbox/{ref}")
    image = page.get_by_role("img", name=re.compile(rf"Photo 1 the resident sent with item #{ref}"))
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert image.evaluate("img => img.naturalWidth") > 0
    shot = shots / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    width, height = _png_size(shot)
    assert width > 0 and height > 0 and shot.stat().st_size > 1000


def _join_and_give_a_photo(world: World) -> None:
    """Both residents join, ask to give feedback, and send a photo alone; both become input items."""
    for words in (("hi", "Choose your language"), ("1", "Reply HELP"), ("yes", "Thank you for joining")):
        world.telegram(*words)
    world.telegram("skip", "may we ask")
    world.telegram("2", "")  # no to the questions about oneself (any answer)
    world.telegram("FEEDBACK", "What would you like to tell us?")
    world.front.add("tg-photo", png(160, 120, (20, 120, 200)))
    world.front.inject(_photo_update(990001))
    world.wait_for_bot("What is it mostly about?")
    world.telegram("1", "May our team contact you")
    world.telegram("yes", "Your reference is #")

    for body in ("hi", "1", "yes", "94110", "2", "FEEDBACK"):
        world.text(SMS_RESIDENT, body)
    mms = world.host.add("e2e", png(200, 100, (200, 40, 40)), "image/png")
    assert "What is it mostly about?" in world.text(SMS_RESIDENT, "", (mms.source, "image/png"))
    world.text(SMS_RESIDENT, "1")
    assert "Your reference is #" in world.text(SMS_RESIDENT, "yes")


def test_photos_from_telegram_and_mms_show_in_the_inbox_and_go_with_erasure(world: World, tmp_path: Path) -> None:
    _join_and_give_a_photo(world)
    engine = sqlite_engine(world.database)
    sql = (
        "SELECT a.id, a.status, a.channel, a.error, i.ref, i.resident_id, i.text FROM attachments a "
        "JOIN input_items i ON i.id = a.item_id ORDER BY a.id"
    )
    rows = wait_until(lambda: [r for r in query(engine, sql) if r["status"] == "stored"][1:] and query(engine, sql), 20)
    assert [(r["channel"], r["status"], r["text"]) for r in rows] == [
        ("telegram", "stored", "[photo]"),
        ("sms", "stored", "[photo]"),
    ]
    assert len(world.stored_files()) == 2
    assert world.host.seen_auth == [True] and world.host.storage_saw_auth == [False]
    assert "getFile tg-photo" in world.front.asked

    env = clean_os_env(**base_env(world.database, LOOPLINE_MEDIA_DIR=str(world.media)))
    create = [sys.executable, "-m", "bot", "users", "create", "--email", ADMIN, "--role", "admin"]
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    made = subprocess.run(
        [*create, "--password-file", str(password_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr

    from playwright.sync_api import sync_playwright

    from tests.browser.dashboard_helpers import CHROMIUM_FLAGS

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as playwright:
        import shutil

        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
        page = browser.new_page(base_url=world.server.base_url)
        sign_in_page(page, ADMIN, PASSWORD)
        telegram_row, sms_row = rows
        _check_image(page, telegram_row["ref"], shots, "telegram-photo")
        _check_image(page, sms_row["ref"], shots, "mms-photo")

        page.goto(f"/dashboard/residents/{telegram_row['resident_id']}")  # erasure from the dashboard
        page.get_by_label(f"Type {telegram_row['resident_id']} to confirm").fill(str(telegram_row["resident_id"]))
        page.get_by_role("button", name=re.compile("Erase")).click()
        page.wait_for_url(re.compile(r"/dashboard/inbox"))
        browser.close()
    assert len(world.stored_files()) == 1

    erase = [sys.executable, "-m", "bot", "residents", "erase", "--id", str(sms_row["resident_id"]), "--yes"]
    erased = subprocess.run(erase, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert erased.returncode == 0, erased.stderr
    assert world.stored_files() == []
    assert query(engine, "SELECT id FROM attachments") == []
    engine.dispose()
