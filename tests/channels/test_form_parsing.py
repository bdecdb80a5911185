"""Our webhook form reader reads exactly what the standard library's parse_qsl reads (blank values kept, bad UTF-8
replaced, the first of a repeated field kept), for any bytes: hostile bodies, real Twilio forms, encoded or not; and
the form so read passes twilio's own validator exactly when Twilio signed it."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from bot.channels.twilio_sms import TwilioSms, parse_form
from bot.settings import load_settings
from tests.conftest import TWILIO_ENV

# Bytes built from what a form is made of (separators, escapes, plus signs, broken escapes, UTF-8 and bytes that
# are not UTF-8) as well as any bytes at all.
PIECES = st.sampled_from([b"&", b"=", b"+", b"%", b"%2", b"%20", b"%E2%82%AC", b"%ff", b"%C3", b"\xc3\xa9", b"\xff"])
FORMISH = st.lists(PIECES | st.binary(max_size=4) | st.sampled_from([b"Body", b"From", b"a", b""]), max_size=30).map(
    b"".join
)


def standard(body: bytes) -> dict[str, str]:
    form: dict[str, str] = {}
    for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace"):
        form.setdefault(key, value)
    return form


@given(FORMISH | st.binary(max_size=200))
def test_any_body_reads_as_parse_qsl_reads_it(body: bytes) -> None:
    assert parse_form(body) == standard(body)


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=80), max_size=12))
def test_a_form_encoded_as_a_client_does_reads_back_whole(fields: dict[str, str]) -> None:
    body = urlencode(fields).encode("ascii")
    assert parse_form(body) == fields


def test_a_real_inbound_form() -> None:
    body = b"MessageSid=SM1&From=%2B14155550100&Body=Hola%2C+%C2%BFqu%C3%A9+tal%3F&NumMedia=0&Body=second&Empty="
    assert parse_form(body) == {
        "MessageSid": "SM1",
        "From": "+14155550100",
        "Body": "Hola, ¿qué tal?",
        "NumMedia": "0",
        "Empty": "",
    }


FIELDS = st.dictionaries(st.sampled_from(["MessageSid", "From", "To", "Body", "NumMedia", "X", "a b"]), st.text())


@given(FIELDS, st.sampled_from(["/webhooks/twilio/sms", "/webhooks/twilio/sms?x=1"]))
def test_the_signature_twilio_makes_is_the_one_verify_accepts(fields: dict[str, str], path: str) -> None:
    """Whatever way the form is handed to twilio's validator, a request Twilio signed passes and any change fails."""
    settings = load_settings(TWILIO_ENV).twilio
    assert settings is not None
    twilio = TwilioSms(settings, "https://loopline.example.org")
    url = "https://loopline.example.org" + path
    signed = RequestValidator(settings.auth_token).compute_signature(url, fields)
    form = parse_form(urlencode(fields).encode("ascii"))
    assert twilio.verify("http://127.0.0.1:8000" + path, form, signed)
    assert not twilio.verify("http://127.0.0.1:8000" + path, {**form, "Body": form.get("Body", "") + "!"}, signed)
