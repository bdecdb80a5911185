"""End-to-end tests: a real `loopline serve` process against the real peers (Telegram Bot API
emulator, Prism serving Twilio's REST API), and the `loopline` command line as a subprocess.

Shared helpers live here (plain functions, no fixtures) so that each test module stays readable.
"""

from __future__ import annotations

import functools
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from sqlalchemy import Engine, create_engine, text

from bot.i18n.bidi import isolate
from bot.i18n.negotiation import text_direction
from tests.support.peers import REPO_ROOT

T = TypeVar("T")

LOCALES_DIR = REPO_ROOT / "locales"

# Every LOOPLINE_* variable the settings read: blanked for each server so that nothing from the
# developer's environment leaks into a test (an empty value means "not set" to bot.settings).
LOOPLINE_VARIABLES = (
    "LOOPLINE_DATABASE_URL",
    "LOOPLINE_PUBLIC_URL",
    "LOOPLINE_TWILIO_ACCOUNT_SID",
    "LOOPLINE_TWILIO_AUTH_TOKEN",
    "LOOPLINE_TWILIO_FROM",
    "LOOPLINE_TWILIO_MESSAGING_SERVICE_SID",
    "LOOPLINE_TWILIO_API_BASE",
    "LOOPLINE_TELEGRAM_TOKEN",
    "LOOPLINE_TELEGRAM_SECRET",
    "LOOPLINE_TELEGRAM_API_BASE",
    "LOOPLINE_TELEGRAM_MODE",
    "LOOPLINE_PROGRAM_NAME",
    "LOOPLINE_HELP_CONTACT",
    "LOOPLINE_DEFAULT_LOCALE",
    "LOOPLINE_TIMEZONE",
    "LOOPLINE_SIMULATOR",
    "LOOPLINE_MESSAGES_PER_MONTH",
    "LOOPLINE_TRUSTED_PROXIES",
)

# The texts of the program that the tests fill in ({program}, {contact}, {frequency}).
PROGRAM = "Northside Health Line"
CONTACT = "help@northside.example"
MESSAGES_PER_MONTH = 4
FREQUENCY_MSGIDS = ("up to {n} message a month", "up to {n} messages a month")
PARAMS = {"program": PROGRAM, "contact": CONTACT}

# The language menu in the order of onboarding.yaml: (callback data, label).
LANGUAGES = (
    ("en", "English"),
    ("es", "Español"),
    ("zh_Hans", "中文"),
    ("vi", "Tiếng Việt"),
    ("ar", "العربية"),
    ("fr", "Français"),
)

# English source texts (gettext message ids) the tests look for.
MENU_PROMPT = "Welcome to {program}! Choose your language:"
CHOOSE_LANGUAGE = "Choose your language:"
CONSENT_PROMPT = (
    "{program}: {about} ({frequency}). Msg & data rates may apply. Reply HELP for help, STOP to stop. "
    "Would you like to join?"
)
ABOUT = "news, polls and events"  # the catalog's description, heard in each language while none is set
WELCOME = "Thank you for joining {program} ({frequency}). Reply STOP at any time to stop."
AREA_PROMPT = (
    "Optional: what is your ZIP code or neighborhood? It helps us share what matters where you live. "
    "Reply SKIP to skip."
)
FINISH = "All set. Reply MENU to see what you can do, or HELP for help."
HELP = (
    "{program}: {about} ({frequency}). Questions: {contact}. "
    "Msg & data rates may apply. Reply STOP to stop, LANGUAGE to change language, MENU for options."
)
STOPPED = "You are unsubscribed from {program} and will get no more messages. Reply START to join again."
RESTARTED = (
    "You are subscribed to {program} again ({frequency}). Msg & data rates may apply. "
    "Reply HELP for help, STOP to stop."
)
YES_LABEL = "Yes, join"
NO_LABEL = "No, thanks"
# Right after joining, once: the optional questions about oneself (the about-me flow), answered yes or no.
ABOUT_ME_OFFER = (
    "Optional: may we ask 6 short questions about you, so we can see if we hear from everyone? Only totals of 5 or "
    "more people are shown; DELETE MY DATA erases it."
)


def base_env(database_path: Path, **overrides: str) -> dict[str, str]:
    """Environment for a Loopline process: every LOOPLINE_* blank (the known ones, and any this process's
    environment has), a fresh SQLite file, our program."""
    env = dict.fromkeys((*LOOPLINE_VARIABLES, *(k for k in os.environ if k.startswith("LOOPLINE_"))), "")
    env.update(
        LOOPLINE_DATABASE_URL=f"sqlite:///{database_path}",
        LOOPLINE_PROGRAM_NAME=PROGRAM,
        LOOPLINE_HELP_CONTACT=CONTACT,
        LOOPLINE_MESSAGES_PER_MONTH=str(MESSAGES_PER_MONTH),
        LOOPLINE_SIMULATOR="on",  # blank is refused here, unlike every other variable
    )
    env.update(overrides)
    return env


def clean_os_env(**overrides: str) -> dict[str, str]:
    """os.environ without any LOOPLINE_* variable, plus overrides (for plain subprocess.run)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOPLINE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


@functools.cache
def _translations(locale: str) -> NullTranslations:
    """The locale's catalog as the bot loads it: translated, non-fuzzy messages only."""
    path = LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == "en" or not path.is_file():
        return NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


def frequency(locale: str) -> str:
    """ "up to 4 messages a month" in the resident's language (with its plural rules)."""
    plural = _translations(locale).ngettext(*FREQUENCY_MSGIDS, MESSAGES_PER_MONTH)
    return plural.format(n=MESSAGES_PER_MONTH)


def translation(locale: str, msgid: str) -> str | None:
    """The catalog's translation of `msgid`, filled in, or None while it is untranslated."""
    translated = _translations(locale).gettext(msgid)
    if translated == msgid:
        return None
    direction = text_direction(locale)  # values in right-to-left text are isolated (bot.i18n.bidi)
    about = _translations(locale).gettext(ABOUT)
    words = {k: isolate(v, direction) for k, v in PARAMS.items()}
    return translated.format(**words, frequency=frequency(locale), about=about)


def expected(locale: str, msgid: str) -> str:
    """What the bot should say for `msgid` to a resident of `locale`: the translation once there is
    one, the English source text until then."""
    return translation(locale, msgid) or msgid.format(**PARAMS, frequency=frequency("en"), about=ABOUT)


def numbered(text: str, labels: list[str]) -> str:
    """How SMS and the simulator show a question with choices: the text, then one "N label" line each."""
    return "\n".join([text, *(f"{i} {label}" for i, label in enumerate(labels, 1))])


def language_menu(locale: str = "en", *, locale_known: bool = False) -> str:
    """The language menu as SMS and the simulator show it. Until the resident's language is known
    (no hint from the channel), "Choose your language:" follows in every language not yet said."""
    body = expected(locale, MENU_PROMPT)
    if not locale_known:
        others = dict.fromkeys(expected(code, CHOOSE_LANGUAGE) for code, _ in LANGUAGES)
        body = "\n".join([body, *(line for line in others if line not in body)])
    return numbered(body, [label for _, label in LANGUAGES])


def consent_question(locale: str) -> str:
    """The consent question with its two numbered choices, as SMS and the simulator show it."""
    return numbered(expected(locale, CONSENT_PROMPT), [expected(locale, YES_LABEL), expected(locale, NO_LABEL)])


def about_me_offer(locale: str) -> str:
    """The offer of the questions about oneself with its two numbered choices, as SMS and the simulator show it."""
    mark = "\u200f" if text_direction(locale) == "rtl" else ""  # right-to-left numbers keep their place
    labels = [f"{mark}1 {expected(locale, 'Yes')}", f"{mark}2 {expected(locale, 'No')}"]
    return "\n".join([expected(locale, ABOUT_ME_OFFER), *labels])


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.1) -> T:
    """Poll `condition` until it returns something truthy (returned); AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout:g} s (last value: {value!r})")
        time.sleep(interval)


def sqlite_engine(database_path: Path) -> Engine:
    """An engine on the server's SQLite file, for queries from the test process."""
    return create_engine(f"sqlite:///{database_path}", connect_args={"timeout": 10})


def query(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    """Rows of a read-only query, as dicts."""
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(text(sql), params)]


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def bot_replies(emu: Any, token: str, chat_id: int, count: int, settle: float = 0.15) -> list[Any]:
    """Exactly `count` new bot messages in a chat (waiting for them, then a moment more to catch extras)."""
    got = emu.wait_for_updates(token, chat_id, count, timeout=10.0)
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        got.extend(emu.updates(token, chat_id))
        time.sleep(0.05)
    texts = [u["message"].get("text") for u in got]
    assert len(got) == count, f"expected {count} bot message(s), got {texts!r}"
    return list(got)


def button_data(update: dict[str, Any]) -> list[tuple[str, str]]:
    """(callback_data, label) of every inline button under a bot message, in order."""
    markup = update["message"].get("reply_markup") or {}
    return [(b["callback_data"], b["text"]) for row in markup.get("inline_keyboard", []) for b in row]


def buttons(update: dict[str, Any]) -> list[tuple[str, str]]:
    """(value, label) of every inline button under a bot message, in order (data is "question|value")."""
    return [(data.rpartition("|")[2], label) for data, label in button_data(update)]


def press(update: dict[str, Any], value: str) -> str:
    """The callback data of the button with that value: what Telegram sends when the resident taps it."""
    data = [d for d, _label in button_data(update) if d.rpartition("|")[2] == value]
    assert data, f"no button {value!r} under the message"
    return data[0]


def message_text(update: dict[str, Any]) -> str:
    """The text of a bot message as the emulator stored it."""
    return str(update["message"]["text"])
