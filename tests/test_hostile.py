"""Hostile inbound traffic thrown at the real ASGI app, in process, on a real SQLite file.

Twilio forms (signed with the real RequestValidator), Telegram updates and simulator posts, with hostile bodies,
senders, ids and encodings. Properties: never a 5xx; every authentic request that reaches the pipeline is kept
(as exactly one inbound message, or as a dead letter); forged requests get 403 and leave no trace; after STOP
nothing is sent but the answers to START, HELP (and STOP itself) until START.

The app is driven without entering its lifespan: with a public URL and webhook mode the lifespan would call
Telegram's setWebhook (pointed at 127.0.0.1:9, where nothing listens). deliver=False: nothing is sent.
"""

from __future__ import annotations

import itertools
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_from_bytes, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.channels.twilio_sms import MAX_BODY_BYTES
from bot.conversation.keywords import OPT_IN_WHEN_STOPPED, Keyword, all_keywords
from bot.conversation.opt_out import read_keyword
from bot.conversation.text import storable
from bot.runtime import Runtime
from bot.settings import load_settings
from bot.store.models import Address as AddressRow
from bot.store.models import DeadLetter, Message, OutboxItem, Resident
from bot.web.app import create_app
from tests.support.examples import examples

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "secret"
TELEGRAM_SECRET = "s3cret"
SMS_PATH = "/webhooks/twilio/sms"
SMS_URL = "http://testserver" + SMS_PATH
TELEGRAM_PATH = "/webhooks/telegram"
SIMULATOR_PATH = "/simulator/api/messages"
FORM = "application/x-www-form-urlencoded"
E164_OR_SHORT_CODE = re.compile(r"\+[1-9][0-9]{6,14}|[0-9]{3,8}", re.ASCII)
SIMULATOR_HANDLE = re.compile(r"[A-Za-z0-9_.-]{1,40}", re.ASCII)
SIMULATOR_ID = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)

HOSTILE = settings(
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # no "explain": it replays for seconds
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)

# Unique ids across every example of every test (shrinking replays get fresh ones too).
_serial = itertools.count(1)


def serial() -> int:
    return next(_serial)


@dataclass(repr=False)
class Gateway:
    runtime: Runtime
    client: TestClient

    def __repr__(self) -> str:
        return "Gateway(...)"

    def post(self, path: str, content: bytes, headers: dict[str, str]) -> httpx.Response:
        """POST in process; an exception escaping the app is the 500 the provider would have seen."""
        try:
            response = self.client.post(path, content=content, headers=headers)
        except Exception as exc:
            raise AssertionError(f"POST {path} -> 500: the app raised {type(exc).__name__}: {exc}") from exc
        assert response.status_code < 500, f"POST {path} -> {response.status_code}: {response.text[:300]}"
        return response

    def count(self, model: Any, *where: Any) -> int:
        with self.runtime.db.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def inbound(self, channel: str, provider_id: str) -> list[Message]:
        with self.runtime.db.transaction() as session:
            return list(
                session.scalars(
                    select(Message).where(Message.channel == channel, Message.provider_id == provider_id)
                ).all()
            )

    def dead_letters(self) -> int:
        return self.count(DeadLetter)

    def last_dead_letter(self) -> DeadLetter:
        with self.runtime.db.transaction() as session:
            row = session.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(1)).first()
            assert row is not None
            return row


class Case:
    """A generated request; its repr (what Hypothesis prints for a failure) is its description, kept short."""

    body: bytes
    description: str

    def __repr__(self) -> str:
        body = self.body if len(self.body) <= 400 else self.body[:400] + b"...(%d bytes)" % len(self.body)
        return f"<{type(self).__name__} {self.description[:600]} body={body!r}>"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("hostile")
    loaded = load_settings(
        {
            "LOOPLINE_DATABASE_URL": f"sqlite:///{tmp}/h.db",
            "LOOPLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "LOOPLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "LOOPLINE_TWILIO_FROM": "+15005550006",
            "LOOPLINE_PUBLIC_URL": "http://testserver",
            "LOOPLINE_TELEGRAM_TOKEN": "123456:" + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi",
            "LOOPLINE_TELEGRAM_SECRET": TELEGRAM_SECRET,
            "LOOPLINE_SIMULATOR": "on",
            "LOOPLINE_TELEGRAM_MODE": "webhook",
            "LOOPLINE_TELEGRAM_API_BASE": "http://127.0.0.1:9",
        }
    )
    runtime = Runtime(loaded)
    runtime.prepare(migrate=True)
    # Not `with TestClient(...)`: the lifespan (setWebhook against port 9) is deliberately not entered.
    client = TestClient(create_app(runtime, deliver=False), raise_server_exceptions=True)
    try:
        yield Gateway(runtime, client)
    finally:
        client.close()
        runtime.close()


# --------------------------------------------------------------------------------------------------------------
# Hostile text


EMOJI = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸", "🏳️‍🌈", "❤️", "🤦🏼‍♀️", "🧑🏿‍🚀", "\U0001faf6", "©️", "1️⃣"]
BIDI = ["\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068", "\u2069"]
BIDI += ["\u200e", "\u200f", "\u061c"]
RTL_WORDS = ["مرحبا", "توقف", "שלום", "سلام", "עצור", "نعم", "١٢٣", "الغاء الاشتراك"]
CONTROL = [chr(c) for c in range(32)] + ["\x7f", "\x85", "\u2028", "\u2029", "\ufeff", "\u200b", "\ufffd"]
KEYWORD_WORDS = sorted({w for words in all_keywords().values() for w in words} | OPT_IN_WHEN_STOPPED)

emoji_text = st.lists(st.sampled_from(EMOJI), min_size=1, max_size=40).map("".join)
rtl_text = st.lists(st.sampled_from(RTL_WORDS + BIDI + [" ", "abc", "STOP"]), min_size=1, max_size=30).map("".join)
control_text = st.lists(st.sampled_from([*CONTROL, "a", "STOP", " "]), min_size=1, max_size=40).map("".join)
keywordish = st.tuples(
    st.sampled_from(["", " ", "  ", "\t", "\n", "¡", "¿", "'", '"', "*"]),
    st.sampled_from(KEYWORD_WORDS),
    st.sampled_from(["", " ", "!", ".", "?", "!!", "\n", " please", "؟", "。"]),
    st.sampled_from([str, str.upper, str.title, str.lower]),
).map(lambda t: t[0] + t[3](t[1]) + t[2])


@st.composite
def long_text(draw: st.DrawFn, low: int = 5000, high: int = 5600) -> str:
    """5,000+ characters, built by repeating a drawn chunk (cheap for Hypothesis to generate)."""
    chunk = draw(st.one_of(st.text(min_size=1, max_size=40), emoji_text, rtl_text, st.just("a")))
    size = draw(st.integers(low, high))
    return (chunk * (size // len(chunk) + 1))[:size]


hostile_text = st.one_of(
    st.just(""),
    st.text(max_size=200),
    emoji_text,
    rtl_text,
    control_text,
    keywordish,
    long_text(),
    st.sampled_from(["0", "1", "2", "99", "-1", "1e9", "NaN", "null", "<Response/>", "]]>", "&amp;", "%00"]),
)


def twiml_texts(response: httpx.Response) -> list[str]:
    """The <Message> texts of a TwiML answer; fails unless it is well-formed TwiML."""
    assert response.headers["content-type"].startswith("application/xml"), response.headers["content-type"]
    root = ET.fromstring(response.content)
    assert root.tag == "Response", response.text[:200]
    assert all(child.tag == "Message" for child in root), response.text[:300]
    return [child.text or "" for child in root]


# --------------------------------------------------------------------------------------------------------------
# Twilio

GOOD_FROM = [
    ("+14155550100", "+14155550100"),
    (" +14155550101 ", "+14155550101"),
    ("+1 (415) 555-0102", "+14155550102"),
    ("+442071838750", "+442071838750"),
    ("+33142685300", "+33142685300"),
    ("+8613800138000", "+8613800138000"),
    ("+966501234567", "+966501234567"),
    ("+84912345678", "+84912345678"),
    ("12345", "12345"),  # a short code
]
BAD_FROM = [
    "",
    " ",
    "abc",
    "+",
    "+1",
    "+999999999999999999",
    "whatsapp:+14155550100",
    "client:alice",
    "sip:alice@example.com",
    "\x00",
    "١٢٣٤٥",
    "123456789",
    "+1" * 12,
    "null",
    "' OR 1=1 --",
]
# Either outcome is acceptable for these (stored under a normalised E.164 number, or dead-lettered).
ODD_FROM = [
    "+١٤١٥٥٥٥٠١٠٠",  # Arabic-Indic digits
    "＋１４１５５５５０１００",  # full-width
    "+۱۴۱۵۵۵۵۰۱۰۰",  # Persian digits
    "+1415555010\x00",
    "tel:+14155550100",
    "+1\u202e4155550100",
    "+44 (0)20 7183 8750",
]
OTHER_ACCOUNT = "AC" + "f" * 32
REALISTIC_EXTRAS = {
    "To": "+15005550006",
    "NumSegments": "1",
    "SmsStatus": "received",
    "ApiVersion": "2010-04-01",
    "FromCity": "SAN FRANCISCO",
    "FromZip": "94105",
    "FromCountry": "US",
    "MessagingServiceSid": "MG" + "0" * 32,
    # WhatsApp's and MMS's fields, as a hostile sender might fill them: a profile name with a bidi override, an
    # empty button payload, a media URL that is no URL and a declared type that is not a file's.
    "ProfileName": "Lan \u202eevil",
    "ButtonPayload": "",
    "MediaUrl0": "javascript:alert(1)",
    "MediaContentType0": "text/html",
}
KNOWN_FIELDS = {"MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "From", "Body", "NumMedia", "OptOutType"}


@dataclass(repr=False)
class TwilioCase(Case):
    body: bytes
    signature: str | None
    signature_ok: bool
    sid: str | None  # the id a well-formed request is stored under
    expect: str  # "message", "dead", "either"
    expected_text: str | None
    expected_from: str | None
    resend: str  # "", "same", "changed"
    query: str
    description: str

    @property
    def too_big(self) -> bool:
        return len(self.body) > MAX_BODY_BYTES


@st.composite
def twilio_cases(draw: st.DrawFn) -> TwilioCase:
    n = serial()
    fields: list[tuple[str, str]] = []
    why: list[str] = []

    sid_kind = draw(st.sampled_from(["SM", "MM", "alnum", "SmsSid", "missing", "empty", "bad"]))
    sid: str | None = None
    sid_ok = sid_kind in ("SM", "MM", "alnum", "SmsSid")
    if sid_kind in ("SM", "MM"):
        sid = f"{sid_kind}{n:032x}"
        fields.append(("MessageSid", sid))
    elif sid_kind == "alnum":
        sid = f"x{n:015d}"
        fields.append(("MessageSid", sid))
    elif sid_kind == "SmsSid":  # the legacy name alone
        sid = f"SM{n:032x}"
        fields.append(("SmsSid", sid))
    elif sid_kind == "empty":
        fields.append(("MessageSid", ""))
    elif sid_kind == "bad":
        bad = draw(
            st.sampled_from(
                [
                    "x",
                    "SM",
                    "SM123",
                    "SM' OR 1=1 --",
                    "SM" + "٣" * 32,
                    "SM" + "a" * 100,
                    "../../etc/passwd",
                    "SM\x00" + "a" * 31,
                    "SM" + "a" * 15 + "-" + "b" * 16,
                    "SM" + "é" * 32,
                ]
            )
        )
        fields.append(("MessageSid", bad))
    why.append(f"sid={sid_kind}")

    account_kind = draw(st.sampled_from(["ours", "missing", "empty", "other"]))
    if account_kind == "ours":
        fields.append(("AccountSid", ACCOUNT_SID))
    elif account_kind == "empty":
        fields.append(("AccountSid", ""))
    elif account_kind == "other":
        fields.append(("AccountSid", OTHER_ACCOUNT))
    account_ok = account_kind != "other"
    why.append(f"account={account_kind}")

    from_kind = draw(st.sampled_from(["good", "bad", "odd", "text", "missing"]))
    from_ok: bool | None
    expected_from: str | None = None
    if from_kind == "good":
        raw_from, expected_from = draw(st.sampled_from(GOOD_FROM))
        fields.append(("From", raw_from))
        from_ok = True
    elif from_kind == "bad":
        fields.append(("From", draw(st.sampled_from(BAD_FROM))))
        from_ok = False
    elif from_kind == "missing":
        from_ok = False
    else:
        fields.append(("From", draw(st.sampled_from(ODD_FROM) if from_kind == "odd" else st.text(max_size=25))))
        from_ok = None
    why.append(f"from={from_kind}:{fields[-1][1]!r}" if from_kind != "missing" else "from=missing")

    extras = draw(st.dictionaries(st.sampled_from(sorted(REALISTIC_EXTRAS)), st.just(""), max_size=4))
    fields += [(k, REALISTIC_EXTRAS[k]) for k in extras]
    unknown = draw(
        st.dictionaries(
            st.text(min_size=1, max_size=20).filter(lambda k: k not in KNOWN_FIELDS and k not in REALISTIC_EXTRAS),
            st.one_of(st.text(max_size=50), control_text),
            max_size=4,
        )
    )
    fields += list(unknown.items())
    num_media = draw(st.sampled_from([None, None, "0", "1", "3"]))
    if num_media is not None:
        fields.append(("NumMedia", num_media))
    if draw(st.integers(0, 9)) == 0:
        fields.append(("OptOutType", draw(st.sampled_from(["STOP", "START", "HELP"]))))

    # The body: kept as (what we put on the wire, what the server must decode it to).
    body_kind = draw(st.sampled_from(["text", "text", "text", "missing", "invalid-utf8", "raw-bytes", "huge"]))
    body_value: str | None
    tail = b""
    if body_kind == "missing":
        body_value = None
    elif body_kind == "invalid-utf8":
        raw = draw(
            st.one_of(
                st.binary(max_size=300),
                st.sampled_from([b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"STOP\xff"]),
            )
        )
        body_value = raw.decode("utf-8", errors="replace")
        tail = b"&Body=" + quote_from_bytes(raw, safe="").encode("ascii")
    elif body_kind == "raw-bytes":
        # Unescaped non-ASCII bytes on the wire (Twilio always escapes). The server reads the body as
        # latin-1 before unescaping; what it decodes is what a sender would have to sign.
        raw = draw(st.binary(min_size=1, max_size=100).filter(lambda b: b"&" not in b and b"%" not in b))
        body_value = raw.decode("latin-1").replace("+", " ")
        tail = b"&Body=" + raw
    elif body_kind == "huge":
        body_value = "a" * (MAX_BODY_BYTES + draw(st.integers(1, 2000)))
    else:
        body_value = draw(hostile_text)
    if body_value is not None and not tail:
        fields.append(("Body", body_value))
    why.append(f"body={body_kind}")

    order = draw(st.permutations(range(len(fields))))
    fields = [fields[i] for i in order]
    body = urlencode(fields).encode("ascii") + tail

    params = dict(fields)
    if body_value is not None:
        params["Body"] = body_value
    query = draw(st.sampled_from(["", "", "?x=1", "?a=%20b&c"]))
    signature_kind = draw(
        st.sampled_from(["valid"] * 6 + ["missing", "empty", "garbage", "wrong-token", "tampered", "wrong-url"])
    )
    validator = RequestValidator(AUTH_TOKEN)
    signature: str | None
    if signature_kind == "valid":
        signature = validator.compute_signature(SMS_URL + query, params)
    elif signature_kind == "missing":
        signature = None
    elif signature_kind == "empty":
        signature = ""
    elif signature_kind == "garbage":
        signature = draw(st.sampled_from(["x", "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "=" * 28, "null"]))
    elif signature_kind == "wrong-token":
        signature = RequestValidator("not-the-secret").compute_signature(SMS_URL + query, params)
    elif signature_kind == "tampered":
        signature = validator.compute_signature(SMS_URL + query, {**params, "Body": (body_value or "") + "!"})
    else:
        signature = validator.compute_signature("https://testserver" + SMS_PATH + query, params)
    why.append(f"signature={signature_kind}")

    if not (sid_ok and account_ok) or from_ok is False:
        expect = "dead"
    elif from_ok is None:
        expect = "either"
    else:
        expect = "message"
    text = body_value or ""  # a message that is only media has no body: its files are the message's attachments
    resend = draw(st.sampled_from(["", "", "", "same", "changed"])) if sid_ok else ""
    return TwilioCase(
        body=body,
        signature=signature,
        signature_ok=signature_kind == "valid",
        sid=sid if sid_ok else None,
        expect=expect,
        expected_text=None if body_kind == "raw-bytes" else text[:5000],
        expected_from=expected_from,
        resend=resend,
        query=query,
        description=" ".join(why) + f" query={query!r}",
    )


def post_sms(gateway: Gateway, body: bytes, signature: str | None, query: str = "") -> httpx.Response:
    headers = {"content-type": FORM}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return gateway.post(SMS_PATH + query, body, headers)


@settings(HOSTILE, max_examples=examples(450))
@given(case=twilio_cases())
def test_hostile_twilio_webhooks(gateway: Gateway, case: TwilioCase) -> None:
    query = case.query
    messages_before = gateway.count(Message)
    dead_before = gateway.dead_letters()

    response = post_sms(gateway, case.body, case.signature, query)

    if case.too_big:
        assert response.status_code == 413, case.description
    elif not case.signature_ok:
        assert response.status_code == 403, case.description
    else:
        assert response.status_code == 200, (case.description, response.text[:300])
        twiml_texts(response)
    if case.too_big or not case.signature_ok:
        assert gateway.count(Message) == messages_before, "a rejected request left a message"
        assert gateway.dead_letters() == dead_before, "a rejected request left a dead letter"
        return

    stored = gateway.inbound("sms", case.sid) if case.sid else []
    dead = gateway.dead_letters() - dead_before
    if case.expect == "message":
        assert dead == 0, case.description
    elif case.expect == "dead":
        assert dead == 1, case.description
        assert not stored, case.description
        assert gateway.count(Message) == messages_before, case.description
        letter = gateway.last_dead_letter()
        # A whatsapp: sender is kept as WhatsApp's (this gateway has no WhatsApp sender configured).
        assert letter.channel in ("sms", "whatsapp") and letter.reason
    else:
        assert (len(stored), dead) in ((1, 0), (0, 1)), (case.description, len(stored), dead)

    if stored or case.expect == "message":
        assert len(stored) == 1, case.description
        row = stored[0]
        assert row.direction == "in"
        if case.expected_text is not None:
            assert row.text == storable(case.expected_text), case.description
        assert E164_OR_SHORT_CODE.fullmatch(row.address), row.address
        if case.expected_from:
            assert row.address == case.expected_from

    if case.resend and stored:
        # Twilio retries with the same MessageSid; a replay with another body is no new message either.
        body = case.body
        signature = case.signature
        if case.resend == "changed":
            params = {"MessageSid": case.sid or "", "From": stored[0].address, "Body": "a different body"}
            body = urlencode(params).encode()
            signature = RequestValidator(AUTH_TOKEN).compute_signature(SMS_URL, params)
            query = ""
        again = post_sms(gateway, body, signature, query)
        assert again.status_code == 200
        twiml_texts(again)
        rows = gateway.inbound("sms", case.sid or "")
        assert len(rows) == 1, f"duplicate MessageSid stored {len(rows)} times"
        assert rows[0].text == stored[0].text


# --------------------------------------------------------------------------------------------------------------
# Telegram

json_junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
json_junk_not_text = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
message_paths = [
    ("message",),
    ("message", "chat"),
    ("message", "chat", "id"),
    ("message", "chat", "type"),
    ("message", "from"),
    ("message", "from", "language_code"),
    ("message", "from", "first_name"),
    ("message", "date"),
    ("message", "text"),
    ("message", "message_id"),
    ("update_id",),
]


@dataclass(repr=False)
class TelegramCase(Case):
    body: bytes
    secret: str | None
    update_id: int | None
    kind: str  # "message", "button", "group", "hostile", "not-json", "not-object"
    expected_text: str | None
    description: str


def _drop(data: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = data
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        node = node[key]
    if isinstance(node, dict):
        node.pop(path[-1], None)


def _set(data: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    node: Any = data
    for key in path[:-1]:
        if not isinstance(node, dict) or not isinstance(node.get(key), dict):
            return
        node = node[key]
    if isinstance(node, dict):
        node[path[-1]] = value


@st.composite
def telegram_cases(draw: st.DrawFn) -> TelegramCase:
    update_id = 10_000_000 + serial()
    chat_id = draw(st.sampled_from([update_id, -update_id, 2**40 + update_id]))
    secret = draw(st.sampled_from([TELEGRAM_SECRET] * 8 + [None, "", "wrong", "S3CRET"]))
    text = draw(st.one_of(hostile_text, st.text(min_size=4096, max_size=4200).map(lambda t: t or "x")))
    user = {"id": abs(chat_id), "is_bot": False, "first_name": draw(st.sampled_from(["R", "ر", "😀" * 200]))}
    if draw(st.booleans()):
        user["language_code"] = draw(st.sampled_from(["es", "ar", "zh-hans", "pt-BR", "", "xx-YY-zz", "\u202e"]))
    message = {"message_id": 1, "date": 1_700_000_000, "chat": {"id": chat_id, "type": "private"}, "from": user}
    if text or draw(st.booleans()):
        message["text"] = text
    shape = draw(st.sampled_from(["message", "edited", "button", "group", "hostile", "hostile", "raw"]))
    data: Any
    kind = shape
    expected: str | None = text if shape in ("message", "edited") else None
    if shape in ("message", "edited", "hostile"):
        data = {"update_id": update_id, "edited_message" if shape == "edited" else "message": message}
        kind = "message" if shape == "edited" else shape
    elif shape == "group":
        message["chat"] = {"id": -chat_id, "type": draw(st.sampled_from(["group", "supergroup", "channel"]))}
        message["chat"]["title"] = "G"
        data = {"update_id": update_id, "message": message}
    elif shape == "button":
        callback = draw(
            st.one_of(
                st.sampled_from(["", "x" * 64, "x" * 65, "é" * 40, "\x00", "../..", "1", "yes", "STOP", "en"]),
                st.text(max_size=70),
            )
        )
        query: dict[str, Any] = {"id": str(update_id), "from": user, "chat_instance": "ci", "data": callback}
        if draw(st.booleans()):
            query["message"] = {
                "message_id": 2,
                "date": draw(st.sampled_from([0, 1_700_000_000])),
                "chat": {"id": chat_id, "type": "private"},
            }
        data = {"update_id": update_id, "callback_query": query}
        expected = callback
    else:
        data = None
    if shape == "hostile":
        data = {"update_id": update_id, "message": message}
        for _ in range(draw(st.integers(1, 3))):
            path = draw(st.sampled_from(message_paths))
            if draw(st.booleans()):
                _drop(data, path)
            else:
                _set(data, path, draw(json_junk))
        if draw(st.booleans()):
            data[draw(st.sampled_from(["poll", "channel_post", "my_chat_member", "x"]))] = draw(json_junk)
    if shape == "raw":
        body = draw(
            st.one_of(
                st.binary(max_size=200),
                st.sampled_from(
                    [
                        b"",
                        b"not json",
                        b"null",
                        b"[]",
                        b'[{"update_id": 1}]',
                        b"42",
                        b'"update"',
                        b"NaN",
                        b"\xef\xbb\xbf{}",
                        b"{}",
                        b'{"update_id": null}',
                    ]
                ),
                st.lists(json_junk, max_size=5).map(lambda v: json.dumps(v).encode()),
            )
        )
        return TelegramCase(body, secret, None, "raw", None, f"raw secret={secret!r}")
    body = json.dumps(data).encode()
    return TelegramCase(body, secret, update_id, kind, expected, f"{shape} secret={secret!r}")


def post_telegram(gateway: Gateway, body: bytes, secret: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return gateway.post(TELEGRAM_PATH, body, headers)


@settings(HOSTILE, max_examples=examples(300))
@given(case=telegram_cases())
def test_hostile_telegram_updates(gateway: Gateway, case: TelegramCase) -> None:
    messages_before = gateway.count(Message)
    dead_before = gateway.dead_letters()

    response = post_telegram(gateway, case.body, case.secret)

    if case.secret != TELEGRAM_SECRET:
        assert response.status_code == 403, case.description
        assert gateway.count(Message) == messages_before
        assert gateway.dead_letters() == dead_before
        return
    if len(case.body) > MAX_BODY_BYTES:
        assert response.status_code == 413
        return
    assert response.status_code in (200, 400), case.description
    if case.kind == "raw":
        return
    assert response.status_code == 200, case.description
    stored = gateway.inbound("telegram", str(case.update_id))
    assert len(stored) <= 1
    if case.kind in ("message", "button"):
        assert len(stored) == 1, case.description
        assert stored[0].direction == "in"
        assert stored[0].text == storable((case.expected_text or "")[:5000]), case.description
        again = post_telegram(gateway, case.body, case.secret)  # Telegram redelivers on timeouts
        assert again.status_code == 200
        assert len(gateway.inbound("telegram", str(case.update_id))) == 1
    elif case.kind == "group":
        assert not stored, "a group chat message was served"
        assert gateway.dead_letters() == dead_before + 1


# Each of these is an update Telegram itself would not send, but any holder of the secret (or a future API
# change) can: the webhook must answer 2xx (dead letter) rather than 500, or Telegram redelivers it for hours.
def _update(**message: object) -> dict[str, Any]:
    base: dict[str, Any] = {"message_id": 1, "date": 1_700_000_000, "chat": {"id": 77, "type": "private"}}
    base.update(message)
    return {"update_id": 20_000_000 + serial(), "message": {k: v for k, v in base.items() if v is not ...}}


POISON_UPDATES: dict[str, Callable[[], bytes]] = {
    "message-without-chat": lambda: json.dumps(_update(chat=..., text="hi")).encode(),
    "text-is-a-number": lambda: json.dumps(_update(text=123)).encode(),
    "text-is-a-list": lambda: json.dumps(_update(text=["a"])).encode(),
    "caption-is-a-number": lambda: json.dumps(_update(caption=5)).encode(),
    "text-lone-surrogate": lambda: json.dumps(_update(text="\ud800")).encode(),
    "language-code-is-a-number": lambda: json.dumps(
        _update(text="hi", **{"from": {"id": 77, "is_bot": False, "first_name": "R", "language_code": 5}})
    ).encode(),
    "date-out-of-range": lambda: json.dumps(_update(text="hi", date=10**20)).encode(),
    "callback-without-from": lambda: json.dumps(
        {"update_id": 20_000_000 + serial(), "callback_query": {"id": "1", "chat_instance": "c", "data": "x"}}
    ).encode(),
    "deeply-nested-json": lambda: b"[" * 50_000,
    "integer-over-4300-digits": lambda: b"1" * 5000,
}


@pytest.mark.parametrize("name", sorted(POISON_UPDATES))
def test_telegram_poison_update_is_not_5xx(gateway: Gateway, name: str) -> None:
    response = post_telegram(gateway, POISON_UPDATES[name](), TELEGRAM_SECRET)
    assert response.status_code in (200, 400)


# --------------------------------------------------------------------------------------------------------------
# Simulator


@dataclass(repr=False)
class SimulatorCase(Case):
    body: bytes
    must_succeed: bool
    message_id: str | None
    handle: str | None
    expected_text: str | None
    description: str


@st.composite
def simulator_cases(draw: st.DrawFn) -> SimulatorCase:
    n = serial()
    if draw(st.integers(0, 5)) == 0:
        body = draw(
            st.one_of(
                st.binary(max_size=100),
                st.sampled_from([b"", b"[]", b'["text"]', b"null", b'"hi"', b"1" * 5000, b"{"]),
                st.lists(json_junk, max_size=4).map(lambda v: json.dumps(v).encode()),
            )
        )
        return SimulatorCase(body, False, None, None, None, f"raw {body[:60]!r}")
    data: dict[str, Any] = {}
    good = True
    handle_kind = draw(st.sampled_from(["unique", "pool", "missing", "empty", "invalid", "junk"]))
    handle: str | None = None
    if handle_kind == "unique":
        handle = data["handle"] = f"h-{n}"
    elif handle_kind == "pool":
        handle = data["handle"] = draw(st.sampled_from(["alice", "bob", "carol.x", "d_e-f"]))
    elif handle_kind == "empty":
        data["handle"] = draw(st.sampled_from(["", "   ", None, 0, False]))
    elif handle_kind == "invalid":
        data["handle"] = draw(st.sampled_from(["a b", "x" * 41, "ä", "a/b", "<script>", "\u202eab", "a\x00"]))
        good = False
    elif handle_kind == "junk":
        data["handle"] = draw(json_junk)
        good = False
    text_kind = draw(st.sampled_from(["text", "text", "text", "missing", "junk"]))
    text: str | None = None
    if text_kind == "text":
        text = data["text"] = draw(hostile_text)
    elif text_kind == "junk":
        data["text"] = draw(json_junk_not_text)
        good = False
    else:
        good = False
    id_kind = draw(st.sampled_from(["unique", "missing", "invalid", "junk"]))
    message_id: str | None = None
    if id_kind == "unique":
        message_id = data["id"] = f"hx-{n}"
    elif id_kind == "invalid":
        data["id"] = draw(st.sampled_from(["a b", "x" * 65, "é", "../x", "a\nb", "a.b"]))
        good = False
    elif id_kind == "junk":
        data["id"] = draw(json_junk)
        good = False
    if draw(st.booleans()):
        data["language"] = draw(st.one_of(st.sampled_from(["es", "ar-EG", "zh", "", "\u202e", "x" * 500]), json_junk))
    for key, value in draw(st.dictionaries(st.text(max_size=8), json_junk, max_size=3)).items():
        data.setdefault(key, value)
    body = json.dumps(data).encode()
    return SimulatorCase(body, good, message_id, handle, text, f"{body[:300]!r}")


@settings(HOSTILE, max_examples=examples(200))
@given(case=simulator_cases())
def test_hostile_simulator_posts(gateway: Gateway, case: SimulatorCase) -> None:
    response = gateway.post(SIMULATOR_PATH, case.body, {"content-type": "application/json"})
    assert response.status_code in (200, 400), case.description
    if case.must_succeed:
        assert response.status_code == 200, (case.description, response.text[:200])
    if response.status_code != 200:
        return
    answer = response.json()
    assert SIMULATOR_HANDLE.fullmatch(answer["handle"])
    assert isinstance(answer["replies"], list) and all(isinstance(r, str) for r in answer["replies"])
    if case.handle:
        assert answer["handle"] == case.handle
    if case.message_id:
        stored = gateway.inbound("simulator", case.message_id)
        assert len(stored) == 1 and stored[0].direction == "in"
        assert stored[0].address == answer["handle"]
        assert stored[0].text == storable((case.expected_text or "")[:5000])


def test_simulator_lone_surrogate_is_not_5xx(gateway: Gateway) -> None:
    """A browser's JSON.stringify escapes a lone surrogate as \\ud800: the simulator must not answer 500."""
    response = gateway.post(SIMULATOR_PATH, b'{"handle": "sur", "text": "ab\\ud800"}', {})
    assert response.status_code in (200, 400)


def test_simulator_deeply_nested_json_is_not_5xx(gateway: Gateway) -> None:
    """json.loads raises RecursionError (not ValueError) on deep nesting; the simulator has no size limit either."""
    response = gateway.post(SIMULATOR_PATH, b"[" * 50_000, {"content-type": "application/json"})
    assert response.status_code == 400


# --------------------------------------------------------------------------------------------------------------
# STOP means stop


KEYWORDS = all_keywords()
ALLOWED_WHILE_STOPPED = {"opt_out", "opt_in", "help"}
_number = itertools.count(1)


def fresh_number() -> str:
    return f"+1628555{next(_number) % 10_000:04d}"


def decorate(word: str, how: int) -> str:
    return [word, word.upper(), word.title(), f"  {word}  ", f"{word}!", f"¡{word.upper()}!", f"{word}.\n"][how]


def keyword_text(kind: Keyword) -> st.SearchStrategy[str]:
    words = list(KEYWORDS[kind]) + (sorted(OPT_IN_WHEN_STOPPED) if kind is Keyword.OPT_IN else [])
    return st.builds(decorate, st.sampled_from(words), st.integers(0, 6))


stop_sequence_text = st.one_of(
    keyword_text(Keyword.OPT_OUT),
    keyword_text(Keyword.OPT_IN),
    keyword_text(Keyword.HELP),
    keyword_text(Keyword.LANGUAGE),
    keyword_text(Keyword.MENU),
    st.sampled_from(["1", "2", "3", "6", "7", "0", "yes", "no", "skip", "94105", "ok", "si", "oui"]),
    st.text(max_size=30),
    emoji_text,
    rtl_text,
)


def send_sms(gateway: Gateway, number: str, text: str) -> tuple[str, list[str]]:
    sid = f"SM{serial():032x}"
    params = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": number, "To": "+15005550006", "Body": text}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(SMS_URL, params)
    response = post_sms(gateway, urlencode(params).encode(), signature)
    assert response.status_code == 200, response.text[:300]
    return sid, twiml_texts(response)


@settings(HOSTILE, max_examples=examples(60))
@given(
    script=st.lists(st.tuples(st.integers(0, 2), stop_sequence_text), min_size=1, max_size=14),
    stops=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 14), keyword_text(Keyword.OPT_OUT)), min_size=1, max_size=3
    ),
)
def test_nothing_but_start_help_and_stop_is_answered_after_stop(
    gateway: Gateway, script: list[tuple[int, str]], stops: list[tuple[int, int, str]]
) -> None:
    for resident, position, word in stops:  # at least one STOP somewhere
        script.insert(min(position, len(script)), (resident, word))
    numbers = [fresh_number() for _ in range(3)]
    stopped = [False, False, False]
    while_stopped: dict[str, str] = {}  # MessageSid -> text, for messages sent while opted out

    for resident, text in script:
        was_stopped = stopped[resident]
        keyword, _request = read_keyword(text, opted_out=was_stopped)
        sid, replies = send_sms(gateway, numbers[resident], text)
        context = f"resident {resident} ({'stopped' if was_stopped else 'active'}) sent {text!r}: {replies!r}"
        if was_stopped:
            while_stopped[sid] = text
            if keyword in (Keyword.OPT_IN, Keyword.HELP):
                assert replies, f"no answer to {keyword.value} after STOP; {context}"
            elif keyword is Keyword.OPT_OUT:
                assert len(replies) <= 1, f"a repeated STOP got more than its confirmation; {context}"
            else:
                assert replies == [], f"answered after STOP; {context}"
            if keyword is Keyword.OPT_IN:
                stopped[resident] = False
        else:
            assert replies, f"no answer while subscribed (or after START); {context}"
            if keyword is Keyword.OPT_OUT:
                stopped[resident] = True

    with gateway.runtime.db.transaction() as session:
        for resident, number in enumerate(numbers):
            row = session.scalars(
                select(AddressRow).where(AddressRow.channel == "sms", AddressRow.value == number)
            ).first()
            if row is None:
                continue
            person = session.get(Resident, row.resident_id)
            assert person is not None
            assert (person.consent == "revoked") == stopped[resident], (number, person.consent)
        ids = dict(
            session.execute(
                select(Message.id, Message.provider_id).where(
                    Message.channel == "sms", Message.provider_id.in_(list(while_stopped))
                )
            ).all()
        )
        assert len(ids) == len(while_stopped)
        for item in session.scalars(select(OutboxItem).where(OutboxItem.address.in_(numbers))).all():
            source = int(item.idempotency_key.split(":")[1])
            if source in ids:
                assert item.purpose in ALLOWED_WHILE_STOPPED, (
                    f"outbox {item.purpose!r} {item.text!r} for {while_stopped[ids[source]]!r} sent after STOP"
                )


# Invisible formatting characters that phones and RTL keyboards put around words (LRM/RLM/ALM, bidi embeddings
# and isolates, zero-width space, BOM). "STOP" wrapped in them still reads STOP to any human: consent may be
# revoked "by any reasonable means" (FCC 24-18).
INVISIBLE = [
    "\u200e",
    "\u200f",
    "\u061c",
    "\u200b",
    "\ufeff",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
]


@settings(HOSTILE, max_examples=examples(30))
@given(
    word=st.sampled_from(KEYWORDS[Keyword.OPT_OUT]),
    invisible=st.text(alphabet=INVISIBLE, min_size=1, max_size=3),
    split=st.integers(0, 3),
)
def test_stop_wrapped_in_invisible_characters_is_honoured(
    gateway: Gateway, word: str, invisible: str, split: int
) -> None:
    text = invisible[:split] + word + invisible[split:]
    number = fresh_number()
    send_sms(gateway, number, "hello")
    _, replies = send_sms(gateway, number, text)
    _, later = send_sms(gateway, number, "are you there?")
    assert later == [], f"{text!r} did not opt out (replies {replies!r})"
