"""Twilio SMS end to end: a real `loopline serve` process, residents posting webhooks signed with
Twilio's own RequestValidator, and outbound SMS through the REST API served by Prism.

One server (and one Prism) serves the whole module; each test uses its own phone numbers, and the
last test scans the server log for every number used.
"""

from __future__ import annotations

import re
import secrets
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.store.models import OutboxItem
from tests.e2e import (
    AREA_PROMPT,
    CONTACT,
    FINISH,
    HELP,
    PROGRAM,
    RESTARTED,
    STOPPED,
    WELCOME,
    about_me_offer,
    base_env,
    consent_question,
    expected,
    language_menu,
    query,
    scalar,
    sqlite_engine,
    wait_until,
)
from tests.support.peers import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    LooplineServer,
    TwilioMock,
    free_port,
    loopline_server,
    sign_twilio,
    twilio_mock,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SMS_PATH = "/webhooks/twilio/sms"
OUR_NUMBER = "+15005550006"
# Every resident number the module uses; the last test checks none of them reached the log.
USED_NUMBERS: set[str] = set()


@dataclass
class SmsServer:
    server: LooplineServer
    public_url: str
    database: Path
    extra_logs: list[Path]

    def post(
        self,
        params: Mapping[str, str],
        *,
        query_string: str = "",
        signed_url: str | None = None,
        signature: str | None = None,
        auth_token: str = TEST_AUTH_TOKEN,
    ) -> httpx.Response:
        """POST a webhook form as Twilio would: signed (by default) for the public URL called."""
        called = f"{SMS_PATH}{query_string}"
        if signature is None:
            signature = sign_twilio(auth_token, signed_url or f"{self.public_url}{called}", params)
        headers = {"X-Twilio-Signature": signature} if signature else {}
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            return client.post(f"{self.server.base_url}{called}", data=dict(params), headers=headers)

    def say(self, number: str, body: str) -> list[str]:
        """The resident at `number` texts `body`; the bodies of the TwiML <Message>s that answer."""
        response = self.post(inbound(number, body))
        assert response.status_code == 200, response.text
        return twiml_messages(response)


def _sid() -> str:
    return "SM" + secrets.token_hex(16)


def inbound(number: str, body: str, sid: str | None = None) -> dict[str, str]:
    """The form Twilio posts for one inbound SMS (the usual fields, including ones we ignore)."""
    USED_NUMBERS.add(number)
    message_sid = sid or _sid()
    return {
        "ToCountry": "US",
        "SmsMessageSid": message_sid,
        "NumMedia": "0",
        "SmsSid": message_sid,
        "SmsStatus": "received",
        "Body": body,
        "To": OUR_NUMBER,
        "NumSegments": "1",
        "MessageSid": message_sid,
        "AccountSid": TEST_ACCOUNT_SID,
        "From": number,
        "FromCountry": "US",
        "ApiVersion": "2010-04-01",
    }


def twiml_messages(response: httpx.Response) -> list[str]:
    """The text of each <Message> of a TwiML answer (an empty <Response/> gives [])."""
    assert response.headers["content-type"].startswith(("application/xml", "text/xml")), response.headers
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    assert all(child.tag == "Message" for child in root), ET.tostring(root)
    return ["".join(message.itertext()) for message in root]


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwilioMock]:
    with twilio_mock(log_dir=tmp_path_factory.mktemp("prism")) as mock:
        yield mock


@pytest.fixture(scope="module")
def sms(prism: TwilioMock, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmsServer]:
    folder = tmp_path_factory.mktemp("sms-server")
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    env = base_env(
        folder / "e2e.db",
        LOOPLINE_TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
        LOOPLINE_TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
        LOOPLINE_TWILIO_FROM=OUR_NUMBER,
        LOOPLINE_TWILIO_API_BASE=prism.base_url,
        LOOPLINE_PUBLIC_URL=public_url,
    )
    # --access-log too: request lines are the likeliest place for a number to leak into the log.
    argv = [sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--access-log"]
    with loopline_server(env, port=port, log_dir=folder, argv=argv) as server:
        yield SmsServer(server, public_url, folder / "e2e.db", [])


@pytest.fixture
def db(sms: SmsServer) -> Iterator[Engine]:
    engine = sqlite_engine(sms.database)
    yield engine
    engine.dispose()


# ------------------------------------------------------------------------------------------
# Conversations
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "locale", "answers", "area"),
    [
        ("+14155550101", "en", ("hi", "1", "1", "94110"), "94110"),
        ("+14155550102", "en", ("Hello", "english", "YES", "skip"), None),
        ("+14155550103", "es", ("hola", "2", "si", "94110"), "94110"),
        ("+14155550104", "es", ("Hola", "Español", "sí", "Mission District"), "Mission District"),
    ],
    ids=["english-by-numbers", "english-by-words", "spanish-by-numbers", "spanish-by-words"],
)
def test_onboarding(
    sms: SmsServer, db: Engine, number: str, locale: str, answers: tuple[str, ...], area: str | None
) -> None:
    greeting, language, consent, where = answers
    assert sms.say(number, greeting) == [language_menu()]
    assert sms.say(number, language) == [consent_question(locale)]
    assert sms.say(number, consent) == [expected(locale, WELCOME), expected(locale, AREA_PROMPT)]
    assert sms.say(number, where) == [expected(locale, FINISH), about_me_offer(locale)]

    (resident,) = query(
        db,
        "SELECT r.locale, r.consent, r.area FROM residents r JOIN addresses a ON a.resident_id = r.id "
        "WHERE a.channel = 'sms' AND a.value = :n",
        n=number,
    )
    assert resident == {"locale": locale, "consent": "granted", "area": area}
    directions = query(
        db,
        "SELECT direction, text FROM messages WHERE channel = 'sms' AND address = :n ORDER BY id",
        n=number,
    )
    assert [d["direction"] for d in directions] == ["in", "out", "in", "out", "in", "out", "out", "in", "out", "out"]
    assert [d["text"] for d in directions if d["direction"] == "in"] == list(answers)


def test_help_stop_silence_start(sms: SmsServer, db: Engine) -> None:
    number = "+14155550111"
    assert sms.say(number, "hi") == [language_menu()]

    help_reply = sms.say(number, "HELP")
    assert help_reply[0] == expected("en", HELP)
    assert PROGRAM in help_reply[0] and CONTACT in help_reply[0]
    assert "Msg & data rates may apply" in help_reply[0]
    # In the middle of a question, HELP also says what answer is expected.
    assert help_reply[1:] == ["Reply with a number from 1 to 6."]

    assert sms.say(number, "STOP") == [expected("en", STOPPED)]
    for anything in ("hello", "1", "MENU", "LANGUAGE"):
        assert sms.say(number, anything) == [], anything
    # This resident never agreed to take part: START brings back the consent question, not "subscribed again".
    assert sms.say(number, "START") == [consent_question("en")]
    assert sms.say(number, "1")[0] == expected("en", WELCOME)
    # Someone who had joined is welcomed back at once.
    assert sms.say(number, "STOP") == [expected("en", STOPPED)]
    assert sms.say(number, "START") == [expected("en", RESTARTED)]

    events = query(
        db,
        "SELECT e.state, e.source FROM consent_events e JOIN addresses a ON a.resident_id = e.resident_id "
        "WHERE a.channel = 'sms' AND a.value = :n ORDER BY e.id",
        n=number,
    )
    assert [e["state"] for e in events] == ["revoked", "pending", "granted", "revoked", "granted"]


# ------------------------------------------------------------------------------------------
# Webhook authenticity, dedupe, dead letters
# ------------------------------------------------------------------------------------------


def test_forged_or_misdirected_signatures_are_refused(sms: SmsServer, db: Engine) -> None:
    number = "+14155550121"
    form = inbound(number, "hi")
    good = sign_twilio(TEST_AUTH_TOKEN, f"{sms.public_url}{SMS_PATH}", form)
    forged = "A" * (len(good) - 1) + "="
    attempts = {
        "forged": sms.post(form, signature=forged),
        "other token": sms.post(form, auth_token="not-the-auth-token"),
        "other url": sms.post(form, signed_url=f"{sms.public_url}/webhooks/twilio/other"),
        "other query": sms.post(form, signed_url=f"{sms.public_url}{SMS_PATH}?site=north"),
        "other host": sms.post(form, signed_url=f"https://attacker.example{SMS_PATH}"),
        "tampered body": sms.post({**form, "Body": "STOP"}, signature=good),
    }
    for name, response in attempts.items():
        assert response.status_code == 403, name
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        unsigned = client.post(f"{sms.server.base_url}{SMS_PATH}", data=form)
    assert unsigned.status_code == 403
    assert scalar(db, "SELECT count(*) FROM messages WHERE address = :n", n=number) == 0
    assert scalar(db, "SELECT count(*) FROM addresses WHERE value = :n", n=number) == 0

    # The untouched request is fine.
    assert twiml_messages(sms.post(form, signature=good)) == [language_menu()]


def test_query_string_is_part_of_the_signed_url(sms: SmsServer) -> None:
    number = "+14155550122"
    north = f"{sms.public_url}{SMS_PATH}?site=north"
    first = inbound(number, "hi")
    response = sms.post(first, query_string="?site=north", signed_url=north)
    assert response.status_code == 200 and twiml_messages(response) == [language_menu()]

    # Signed without the query string, or with another one: not what Twilio called.
    second = inbound(number, "1")
    no_query = sms.post(second, query_string="?site=north", signed_url=f"{sms.public_url}{SMS_PATH}")
    assert no_query.status_code == 403
    south = sms.post(second, query_string="?site=north", signed_url=f"{sms.public_url}{SMS_PATH}?site=south")
    assert south.status_code == 403


def test_same_message_sid_twice_is_answered_once(sms: SmsServer, db: Engine) -> None:
    number = "+14155550123"
    form = inbound(number, "hi")
    first, second = sms.post(form), sms.post(form)
    assert first.status_code == 200 and twiml_messages(first) == [language_menu()]
    assert second.status_code == 200 and twiml_messages(second) == []
    rows = query(
        db,
        "SELECT direction FROM messages WHERE channel = 'sms' AND address = :n ORDER BY id",
        n=number,
    )
    assert [r["direction"] for r in rows] == ["in", "out"]
    assert scalar(db, "SELECT count(*) FROM messages WHERE provider_id = :s", s=form["MessageSid"]) == 1


def test_signed_request_without_from_is_kept_as_a_dead_letter(sms: SmsServer, db: Engine) -> None:
    before = scalar(db, "SELECT count(*) FROM dead_letters WHERE channel = 'sms'")
    form = {k: v for k, v in inbound("+14155550124", "hi").items() if k != "From"}
    response = sms.post(form)
    assert response.status_code == 200
    assert twiml_messages(response) == []
    letters = query(
        db,
        "SELECT reason, payload FROM dead_letters WHERE channel = 'sms' ORDER BY id",
    )
    assert len(letters) == before + 1
    assert "From" in letters[-1]["reason"]
    assert form["MessageSid"] in str(letters[-1]["payload"])
    assert scalar(db, "SELECT count(*) FROM messages WHERE provider_id = :s", s=form["MessageSid"]) == 0


def test_public_url_with_a_path_prefix(prism: TwilioMock, tmp_path: Path, sms: SmsServer) -> None:
    """A proxy publishes the app under /base and strips it: Twilio signs the /base URL it called,
    the app is reached at /webhooks/twilio/sms and must check the signature against the public URL."""
    port = free_port()
    public_url = f"http://127.0.0.1:{port}/base"
    env = base_env(
        tmp_path / "e2e.db",
        LOOPLINE_TWILIO_ACCOUNT_SID=TEST_ACCOUNT_SID,
        LOOPLINE_TWILIO_AUTH_TOKEN=TEST_AUTH_TOKEN,
        LOOPLINE_TWILIO_FROM=OUR_NUMBER,
        LOOPLINE_TWILIO_API_BASE=prism.base_url,
        LOOPLINE_PUBLIC_URL=public_url,
    )
    with loopline_server(env, port=port, log_dir=tmp_path) as server:
        sms.extra_logs.append(server.log_path)
        assert f"POST {public_url}{SMS_PATH}" in server.log_text()  # what to give Twilio
        prefixed = SmsServer(server, public_url, tmp_path / "e2e.db", [])
        number = "+14155550125"
        assert prefixed.say(number, "hi") == [language_menu()]
        unprefixed = prefixed.post(inbound(number, "1"), signed_url=f"http://127.0.0.1:{port}{SMS_PATH}")
        assert unprefixed.status_code == 403
        # The app has no root path: a proxy that forwards /base unchanged reaches nothing.
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            form = inbound(number, "1")
            signature = sign_twilio(TEST_AUTH_TOKEN, f"{public_url}{SMS_PATH}", form)
            kept = client.post(
                f"{server.base_url}/base{SMS_PATH}", data=form, headers={"X-Twilio-Signature": signature}
            )
        assert kept.status_code == 404


# ------------------------------------------------------------------------------------------
# Outbound through the REST API (Prism)
# ------------------------------------------------------------------------------------------


def test_queued_sms_goes_out_through_the_rest_api(sms: SmsServer, prism: TwilioMock, db: Engine) -> None:
    # Every SMS answer is inline TwiML, so nothing in the gateway queues an SMS yet: queue one
    # directly, for a resident who joined through the webhook, and let the server's worker send it.
    number = "+14155550131"
    assert sms.say(number, "hi") == [language_menu()]
    assert sms.say(number, "1") == [consent_question("en")]
    assert len(sms.say(number, "yes")) == 2
    resident_id = scalar(db, "SELECT resident_id FROM addresses WHERE channel = 'sms' AND value = :n", n=number)
    assert prism.requests("/Messages.json", "POST") == []  # inline answers never use the REST API

    body = "Free flu shots Saturday 9-12 at the Mission clinic. Reply STOP to stop."
    now = datetime.now(UTC)
    with Session(db) as session, session.begin():
        item = OutboxItem(
            idempotency_key=f"e2e:{secrets.token_hex(8)}", purpose="reply", resident_id=resident_id,
            channel="sms", address=number, text=body, choices={}, status="pending", urgent=False,
            attempts=0, not_before=now, created_at=now,
        )  # fmt: skip
        session.add(item)
        session.flush()
        outbox_id = item.id

    (sent,) = prism.wait_for_requests(1, timeout=10.0)
    assert sent.status == 201
    assert sent.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"
    status_url = f"{sms.public_url}/webhooks/twilio/status"
    assert sent.params == {"To": number, "From": OUR_NUMBER, "Body": body, "StatusCallback": status_url}
    assert sent.basic_auth_user == TEST_ACCOUNT_SID

    row = wait_until(
        lambda: [
            r
            for r in query(
                db,
                "SELECT o.status, o.attempts, o.message_id, m.provider_id, m.direction, m.text "
                "FROM outbox o LEFT JOIN messages m ON m.id = o.message_id WHERE o.id = :i",
                i=outbox_id,
            )
            if r["status"] != "pending" and r["status"] != "sending"
        ]
    )[0]
    assert row["status"] == "sent" and row["attempts"] == 1
    assert re.fullmatch(r"SM[0-9a-fA-F]{32}", row["provider_id"] or ""), row
    assert row["direction"] == "out" and row["text"] == body
    # Twilio's signed status callback for the sid Prism returned moves the message row to "delivered".
    callback = {"MessageSid": row["provider_id"], "MessageStatus": "delivered", "AccountSid": TEST_ACCOUNT_SID}
    signature = sign_twilio(TEST_AUTH_TOKEN, status_url, callback)
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        answer = client.post(
            f"{sms.server.base_url}/webhooks/twilio/status", data=callback, headers={"X-Twilio-Signature": signature}
        )
    assert answer.status_code == 204, answer.text
    assert scalar(db, "SELECT status FROM messages WHERE id = :i", i=row["message_id"]) == "delivered"
    # Sent once: the next sweep (every 2 s) must not send it again.
    time.sleep(2.2)
    assert len(prism.requests("/Messages.json", "POST")) == 1


def test_phone_numbers_never_reach_the_log(sms: SmsServer) -> None:
    """Runs last in this module (on each xdist worker, after that worker's share of it): every number used above,
    in E.164 and digits-only form."""
    assert USED_NUMBERS, "no phone number was used before this test: nothing to look for"
    logs = sms.server.log_text() + "".join(p.read_text(errors="replace") for p in sms.extra_logs)
    assert "POST /webhooks/twilio/sms" in logs  # the access log is on, so there is something to scan
    for number in sorted(USED_NUMBERS):
        digits = number.lstrip("+")
        for form in (number, digits, digits[1:]):
            assert form not in logs, f"{form} appears in the server log"
