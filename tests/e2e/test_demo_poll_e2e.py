"""The demo poll end to end: `loopline demo` seeds a database, one `loopline serve` process runs
Telegram (webhook mode, against the Bot API emulator) and Twilio SMS (signed webhooks, Prism for
the REST API) on it, a Spanish resident on Telegram and an English one on SMS answer the poll,
`loopline results` reads what they said, and `loopline polls close` closes it.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e import (
    ABOUT_ME_OFFER,
    AREA_PROMPT,
    CONSENT_PROMPT,
    FINISH,
    LANGUAGES,
    MENU_PROMPT,
    NO_LABEL,
    WELCOME,
    YES_LABEL,
    _translations,
    about_me_offer,
    base_env,
    bot_replies,
    buttons,
    clean_os_env,
    consent_question,
    expected,
    language_menu,
    message_text,
    numbered,
    press,
    query,
    sqlite_engine,
)
from tests.support.peers import (
    REPO_ROOT,
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    LooplineServer,
    TelegramEmulator,
    free_port,
    loopline_server,
    sign_twilio,
    telegram_emulator,
    twilio_mock,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SLUG = "health-priorities"
DEMO_POLL = REPO_ROOT / "bot" / "engagement" / "demo" / f"{SLUG}.yaml"
SMS_PATH = "/webhooks/twilio/sms"
OUR_NUMBER = "+15005550006"
RESIDENT_NUMBER = "+14155550177"
CHAT = 4242
NEEDS = ["clinics", "mental_health", "healthy_food", "clean_air", "safe_streets"]
IDEA = "Más clínicas cerca de la parada del autobús"
RANK = "Reply with up to {count} numbers, most important first, e.g. 3,1,2."
POLL_CLOSED = "This poll is closed. Thank you for your interest!"
NOT_A_NUMBER = "Sorry, I didn't understand. Please reply with a number from 1 to {count}."


MISSION = "Mission District"  # 94110, as the demo's areas name it (the resident typed the ZIP code)


def _token() -> str:
    """A token shaped like BotFather's: digits, a colon, 35 characters of A-Za-z0-9_-."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)[:35]}"


def gettext(locale: str, msgid: str, **params: object) -> str:
    """A catalog message with its own placeholders filled in (`expected` knows only the program's)."""
    return _translations(locale).gettext(msgid).format(**params)


class Poll:
    """The demo poll's own texts (from its YAML file) in one language."""

    def __init__(self, locale: str) -> None:
        document = yaml.safe_load(DEMO_POLL.read_text(encoding="utf-8"))
        questions = {q["id"]: q for q in document["questions"]}
        self.intro = document["intro"][locale]
        self.thanks = document["thanks"][locale]
        self.text = {qid: q["text"][locale] for qid, q in questions.items()}
        self.labels = [o["label"][locale] for o in questions["top_need"]["options"]]
        self.rank_text = f"{self.text['ranking']}\n{gettext(locale, RANK, count=3)}"


# ------------------------------------------------------------------------------------------
# The command line
# ------------------------------------------------------------------------------------------


def loopline(database: Path, *args: str) -> str:
    """`python -m bot ARGS` on the database; its stdout (it must succeed and say nothing on stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=database.parent,
        env=clean_os_env(**base_env(database)),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    assert result.stderr == "", (args, result.stderr)
    return result.stdout


def seed(tmp_path: Path) -> Path:
    """A fresh SQLite database with the demo content (`loopline demo`: the poll, opened; two events)."""
    database = tmp_path / "demo.db"
    seeded = loopline(database, "demo")
    assert f"demo poll {SLUG} is open: text POLL or HEALTH" in seeded
    assert seeded.count("demo event ") == 2
    return database


# ------------------------------------------------------------------------------------------
# Telegram: the resident's side through the emulator
# ------------------------------------------------------------------------------------------


def replies(emu: TelegramEmulator, token: str, count: int, settle: float = 0.15) -> list[dict[str, Any]]:
    """Exactly `count` bot messages to this test's chat."""
    return bot_replies(emu, token, CHAT, count, settle)


# ------------------------------------------------------------------------------------------
# SMS: signed webhooks, TwiML answers
# ------------------------------------------------------------------------------------------


def say(server: LooplineServer, public_url: str, body: str) -> list[str]:
    """The SMS resident texts `body` (a webhook signed as Twilio would); the TwiML <Message> bodies."""
    sid = "SM" + secrets.token_hex(16)
    form = {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": body,
        "To": OUR_NUMBER,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": TEST_ACCOUNT_SID,
        "From": RESIDENT_NUMBER,
        "FromCountry": "US",
        "ApiVersion": "2010-04-01",
    }
    signature = sign_twilio(TEST_AUTH_TOKEN, f"{public_url}{SMS_PATH}", form)
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        response = client.post(f"{server.base_url}{SMS_PATH}", data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(("application/xml", "text/xml")), response.headers
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root), ET.tostring(root)
    return ["".join(message.itertext()) for message in root]


# ------------------------------------------------------------------------------------------
# The test
# ------------------------------------------------------------------------------------------


def test_demo_poll_on_telegram_and_sms_then_results_and_close(tmp_path: Path) -> None:
    database = seed(tmp_path)
    es, en = Poll("es"), Poll("en")
    token, secret = _token(), secrets.token_urlsafe(24)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    with telegram_emulator(log_dir=tmp_path) as emu, twilio_mock(log_dir=tmp_path) as prism:
        env = base_env(
            database,
            LOOPLINE_PUBLIC_URL=public_url,
            LOOPLINE_TELEGRAM_TOKEN=token,
            LOOPLINE_TELEGRAM_SECRET=secret,
            LOOPLINE_TELEGRAM_API_BASE=emu.base_url,
            LOOPLINE_TELEGRAM_MODE="webhook",
            LOOPLINE_TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
            LOOPLINE_TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
            LOOPLINE_TWILIO_FROM=OUR_NUMBER,
            LOOPLINE_TWILIO_API_BASE=prism.base_url,
        )
        with loopline_server(env, port=port, log_dir=tmp_path) as server:
            log = server.log_text()
            assert f"telegram (webhook {public_url}/webhooks/telegram)" in log, log
            assert f"{public_url}{SMS_PATH}" in log, log

            # --- Telegram, in Spanish, with buttons --------------------------------------------
            emu.send_message(token, CHAT, "hola", language_code="es")
            (menu,) = replies(emu, token, 1)
            assert message_text(menu) == expected("es", MENU_PROMPT)
            assert buttons(menu) == list(LANGUAGES)
            emu.send_callback(token, CHAT, press(menu, "es"), menu["messageId"], language_code="es")
            (consent,) = replies(emu, token, 1)
            assert message_text(consent) == expected("es", CONSENT_PROMPT)
            assert buttons(consent) == [("yes", expected("es", YES_LABEL)), ("no", expected("es", NO_LABEL))]
            emu.send_callback(token, CHAT, press(consent, "yes"), consent["messageId"], language_code="es")
            welcome, area = replies(emu, token, 2)
            assert [message_text(welcome), message_text(area)] == [expected("es", WELCOME), expected("es", AREA_PROMPT)]
            emu.send_message(token, CHAT, "94110", language_code="es")
            finish, offer = replies(emu, token, 2)
            assert message_text(finish) == expected("es", FINISH)
            assert message_text(offer) == expected("es", ABOUT_ME_OFFER)  # passed over by the poll's keyword

            emu.send_message(token, CHAT, "ENCUESTA", language_code="es")
            intro, top_need = replies(emu, token, 2)
            assert message_text(intro) == es.intro
            assert buttons(intro) == []
            assert message_text(top_need) == es.text["top_need"]
            assert buttons(top_need) == list(zip(NEEDS, es.labels, strict=True))

            emu.send_callback(token, CHAT, press(top_need, "clean_air"), top_need["messageId"], language_code="es")
            (ranking,) = replies(emu, token, 1)
            # A ranking takes several numbers: no single-tap buttons, numbered lines as on SMS.
            assert message_text(ranking) == numbered(es.rank_text, es.labels)
            assert buttons(ranking) == []

            emu.send_message(token, CHAT, "4 1 2", language_code="es")
            (idea,) = replies(emu, token, 1)
            assert message_text(idea) == es.text["idea"]
            assert buttons(idea) == []

            emu.send_message(token, CHAT, IDEA, language_code="es")
            (thanks,) = replies(emu, token, 1)
            assert message_text(thanks) == es.thanks

            # --- SMS, in English, by numbers and words ------------------------------------------
            assert say(server, public_url, "hi") == [language_menu()]
            assert say(server, public_url, "1") == [consent_question("en")]
            assert say(server, public_url, "yes") == [expected("en", WELCOME), expected("en", AREA_PROMPT)]
            assert say(server, public_url, "skip") == [expected("en", FINISH), about_me_offer("en")]

            assert say(server, public_url, "HEALTH") == [en.intro, numbered(en.text["top_need"], en.labels)]
            # A word that names no option gets the hint again; a typo ("helth") in a label is
            # forgiven: it still names "Mental health support" and nothing else.
            hint = gettext("en", NOT_A_NUMBER, count=5)
            assert say(server, public_url, "doctors") == [hint]  # the hint alone: the options were just listed
            assert say(server, public_url, "mental helth support") == [numbered(en.rank_text, en.labels)]
            assert say(server, public_url, "2,4") == [en.text["idea"]]
            assert say(server, public_url, "SKIP") == [en.thanks]

            # Every SMS answer was inline TwiML: nothing went out through the REST API.
            assert prism.requests("/Messages.json", "POST") == []

            # --- Results, read while the server runs (SQLite in WAL mode) -----------------------
            results = {r["question"]: r for r in json.loads(loopline(database, "results", SLUG, "--format", "json"))}
            assert list(results) == ["top_need", "ranking", "idea"]
            check_results(results)

            table = loopline(database, "results", SLUG, "--format", "table")
            assert "top_need (choice): 2 respondents" in table
            assert "ranking (ranking): 2 respondents" in table
            assert "idea (text): 1 respondent" in table
            assert f"  - {IDEA}" in table

            rows = list(csv.reader(io.StringIO(loopline(database, "results", SLUG, "--format", "csv"))))
            assert rows[0] == ["question", "dimension", "group", "option", "count", "percent", "points"]
            assert ["top_need", "all", "all", "clean_air", "1", "50.0", "0"] in rows
            assert ["top_need", "channel", "telegram", "clean_air", "1", "100.0", "0"] in rows
            assert ["ranking", "all", "all", "clean_air", "1", "50.0", "9"] in rows
            assert ["idea", "text", "", IDEA, "", "", ""] in rows

            # --- Closing the poll ---------------------------------------------------------------
            assert loopline(database, "polls", "close", SLUG).strip() == f"{SLUG} is closed"
            listed = loopline(database, "polls", "list")
            assert listed.startswith(f"{SLUG}\tclosed\t"), listed

            assert say(server, public_url, "HEALTH") == [expected("en", POLL_CLOSED)]
            emu.send_message(token, CHAT, "SALUD", language_code="es")
            (closed,) = replies(emu, token, 1)
            assert message_text(closed) == expected("es", POLL_CLOSED)
            assert message_text(closed) != POLL_CLOSED  # the Spanish catalog has it

    # The answers as stored: one row per resident and question, with channel, language and area.
    engine = sqlite_engine(database)
    try:
        stored = query(
            engine,
            "SELECT question, channel, locale, area, value FROM answers ORDER BY channel, question",
        )
        items = query(engine, "SELECT kind, text, channel, locale, area, topic FROM input_items")
    finally:
        engine.dispose()
    # The open answer is also an input item, for staff to read in the inbox.
    assert items == [
        {"kind": "poll", "text": IDEA, "channel": "telegram", "locale": "es", "area": MISSION, "topic": "idea"}
    ]
    answers = {(row["channel"], row["question"]): row for row in stored}
    assert set(answers) == {(channel, q) for channel in ("sms", "telegram") for q in ("top_need", "ranking", "idea")}
    assert json.loads(answers["telegram", "ranking"]["value"])["value"] == ["clean_air", "clinics", "mental_health"]
    assert json.loads(answers["sms", "ranking"]["value"])["value"] == ["mental_health", "clean_air"]
    assert json.loads(answers["sms", "idea"]["value"])["value"] is None  # skipped
    assert {(r["channel"], r["locale"], r["area"]) for r in stored} == {
        ("telegram", "es", MISSION),
        ("sms", "en", None),
    }

    # Closing keeps the results.
    again = {r["question"]: r for r in json.loads(loopline(database, "results", SLUG, "--format", "json"))}
    check_results(again)


def counts(options: list[dict[str, Any]], key: str = "count") -> dict[str, int]:
    """value -> count (or points) of the options that have any."""
    return {o["value"]: o[key] for o in options if o[key]}


def check_results(results: dict[str, dict[str, Any]]) -> None:
    top_need, ranking, idea = results["top_need"], results["ranking"], results["idea"]

    assert top_need["respondents"] == 2
    assert top_need["kind"] == "ask-choice"
    assert top_need["text"] == Poll("en").text["top_need"]
    assert [o["value"] for o in top_need["options"]] == NEEDS
    assert [o["label"] for o in top_need["options"]] == Poll("en").labels
    assert counts(top_need["options"]) == {"clean_air": 1, "mental_health": 1}
    percents = {o["value"]: o["percent"] for o in top_need["options"]}
    assert percents == {
        "clinics": 0.0,
        "mental_health": 50.0,
        "healthy_food": 0.0,
        "clean_air": 50.0,
        "safe_streets": 0.0,
    }
    by = top_need["by"]
    assert {k: counts(v) for k, v in by["locale"].items()} == {"en": {"mental_health": 1}, "es": {"clean_air": 1}}
    assert {k: counts(v) for k, v in by["channel"].items()} == {
        "sms": {"mental_health": 1},
        "telegram": {"clean_air": 1},
    }
    assert {k: counts(v) for k, v in by["area"].items()} == {MISSION: {"clean_air": 1}, "unknown": {"mental_health": 1}}

    # Ranking: first choices counted, points 5-4-3-... by place (five options).
    # Telegram "4 1 2": clean_air 5, clinics 4, mental_health 3; SMS "2,4": mental_health 5, clean_air 4.
    assert ranking["respondents"] == 2
    assert ranking["kind"] == "ask-ranking"
    assert counts(ranking["options"]) == {"clean_air": 1, "mental_health": 1}
    assert counts(ranking["options"], "points") == {"clean_air": 9, "mental_health": 8, "clinics": 4}
    assert {k: counts(v, "points") for k, v in ranking["by"]["channel"].items()} == {
        "sms": {"mental_health": 5, "clean_air": 4},
        "telegram": {"clean_air": 5, "clinics": 4, "mental_health": 3},
    }
    assert {k: counts(v) for k, v in ranking["by"]["locale"].items()} == {
        "en": {"mental_health": 1},
        "es": {"clean_air": 1},
    }

    # The open question: skipped on SMS (not a respondent), the Spanish text kept as written.
    assert idea["respondents"] == 1
    assert idea["kind"] == "ask-text"
    assert idea["texts"] == [IDEA]
    assert idea["options"] == [] and idea["by"] == {}


def test_a_button_of_the_first_question_does_not_answer_the_ranking(tmp_path: Path) -> None:
    """A resident taps a button of the first question twice, or goes back and taps another one: the
    ranking question that has meanwhile arrived (numbered lines, no buttons) must not take it."""
    database = seed(tmp_path)
    es = Poll("es")
    token, secret = _token(), secrets.token_urlsafe(24)
    port = free_port()
    with telegram_emulator(log_dir=tmp_path) as emu:
        env = base_env(
            database,
            LOOPLINE_PUBLIC_URL=f"http://127.0.0.1:{port}",
            LOOPLINE_TELEGRAM_TOKEN=token,
            LOOPLINE_TELEGRAM_SECRET=secret,
            LOOPLINE_TELEGRAM_API_BASE=emu.base_url,
            LOOPLINE_TELEGRAM_MODE="webhook",
        )
        with loopline_server(env, port=port, log_dir=tmp_path):
            emu.send_message(token, CHAT, "hola", language_code="es")
            (menu,) = replies(emu, token, 1)
            emu.send_callback(token, CHAT, press(menu, "es"), menu["messageId"], language_code="es")
            (consent,) = replies(emu, token, 1)
            emu.send_callback(token, CHAT, press(consent, "yes"), consent["messageId"], language_code="es")
            replies(emu, token, 2)
            emu.send_message(token, CHAT, "omitir", language_code="es")
            replies(emu, token, 2)  # all set, and the offer of the questions about oneself
            emu.send_message(token, CHAT, "SALUD", language_code="es")
            _intro, top_need = replies(emu, token, 2)
            emu.send_callback(token, CHAT, press(top_need, "clean_air"), top_need["messageId"], language_code="es")
            (ranking,) = replies(emu, token, 1)
            assert message_text(ranking) == numbered(es.rank_text, es.labels)

            emu.send_callback(token, CHAT, press(top_need, "clinics"), top_need["messageId"], language_code="es")
            (again,) = replies(emu, token, 1)
            assert message_text(again) == numbered(es.rank_text, es.labels)  # asked again, not skipped to "idea"

    engine = sqlite_engine(database)
    try:
        stored = query(engine, "SELECT question FROM answers ORDER BY id")
    finally:
        engine.dispose()
    assert [row["question"] for row in stored] == ["top_need"]
