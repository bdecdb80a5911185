"""Helpers for the dashboard browser test: Chromium flags, numbered screenshots, the CLI, catalog texts, a resident."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page

from tests.e2e import _translations, base_env, bot_replies, clean_os_env, message_text
from tests.support.peers import REPO_ROOT, TelegramEmulator

# The same flags as tests/browser/test_simulator_page.py: Debian's chromium, headless, quiet, no network of its own.
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
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "dashboard"


@dataclass
class Screenshots:
    """Full-page screenshots numbered in the order the pages were visited: test-artifacts/dashboard/NN-name.png."""

    folder: Path = SCREENSHOTS
    taken: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob("[0-9][0-9]-*.png"):  # a renamed step must not leave its old picture behind
            stale.unlink()

    def take(self, page: Page, name: str) -> Path:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


def cli(database: Path, *args: str) -> str:
    """`python -m bot ARGS` on the test's SQLite database; its stdout (it must succeed)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=database.parent,
        env=clean_os_env(**base_env(database)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def bot_token() -> str:
    """A token shaped like BotFather's: digits, a colon, 35 characters of A-Za-z0-9_-."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)[:35]}"


def catalog(locale: str, msgid: str, **params: object) -> str:
    """A catalog message in `locale`, its placeholders filled in; the locale's catalog must translate it (so a
    resident reading English where Spanish was due fails the test)."""
    translated = _translations(locale).gettext(msgid)
    assert translated != msgid, f"the {locale} catalog does not translate {msgid!r}"
    return translated.format(**params)


def catalog_plural(locale: str, singular: str, plural: str, n: int) -> str:
    """A plural catalog message in `locale` for `n`, translated (see `catalog`)."""
    translated = _translations(locale).ngettext(singular, plural, n)
    assert translated not in (singular, plural), f"the {locale} catalog does not translate {singular!r}"
    return translated.format(n=n)


def fill_languages(form: Page | Locator, group: str, texts: dict[str, str]) -> None:
    """Type one text per language into the fieldset named `group` (each field is labelled with its language)."""
    fieldset = form.get_by_role("group", name=group, exact=True)
    for label, text in texts.items():
        fieldset.get_by_label(label, exact=True).fill(text)


@dataclass
class TelegramResident:
    """A resident in a private Telegram chat with the bot, through the Bot API emulator."""

    emulator: TelegramEmulator
    token: str
    chat_id: int
    language_code: str

    def say(self, text: str) -> None:
        self.emulator.send_message(self.token, self.chat_id, text, language_code=self.language_code)

    def tap(self, update: dict[str, Any], label: str) -> None:
        """Tap the inline button with this label under a bot message."""
        markup = update["message"].get("reply_markup") or {}
        found = [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row if b["text"] == label]
        assert found, f"no button {label!r} under {message_text(update)!r}"
        self.emulator.send_callback(
            self.token, self.chat_id, found[0], update["messageId"], language_code=self.language_code
        )

    def receives(self, count: int) -> list[dict[str, Any]]:
        """Exactly `count` new messages from the bot (waiting for them)."""
        return bot_replies(self.emulator, self.token, self.chat_id, count)


def sign_in_page(page: Page, email: str, password: str) -> None:
    """Sign in through the form, as a person would; on the overview after."""
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
