"""The simulator page in real headless Chromium (Debian's, driven by Playwright): a resident onboards in Arabic."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.peers import loopline_server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("browser")
    env = {"LOOPLINE_DATABASE_URL": f"sqlite:///{folder}/sim.db", "LOOPLINE_PROGRAM_NAME": "Eastside Health Voices"}
    with loopline_server(env) as running:
        yield running.base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is required (make test installs it via .ci/install-browser)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def say(page: Page, text: str) -> None:
    page.get_by_label("Message").fill(text)
    page.get_by_label("Message").press("Enter")


def test_a_resident_onboards_in_arabic_in_the_simulator(server: str, browser: Browser) -> None:
    page = browser.new_page()
    page.goto(f"{server}/simulator?handle=browser-ar")
    expect(page).to_have_title("Eastside Health Voices simulator")
    say(page, "مرحبا")
    bot = page.locator("#log li.out")
    expect(bot.last).to_contain_text("5 العربية")
    say(page, "5")
    expect(bot.last).to_contain_text("هل تنضم؟")
    say(page, "نعم")
    expect(bot.last).to_contain_text("(SKIP)")
    assert bot.last.evaluate("e => getComputedStyle(e).direction") == "rtl"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "simulator-arabic.png"), full_page=True)
    page.close()


def test_the_page_works_without_javascript(server: str) -> None:
    with httpx.Client(base_url=server, follow_redirects=True) as client:
        page = client.post("/simulator", data={"handle": "nojs-1", "text": "hello"})
        assert page.status_code == 200
        assert "Choose your language" in page.text
        assert "nojs-1" in page.text
        assert client.post("/simulator", data={"handle": "bad handle!", "text": "x"}).status_code == 400
