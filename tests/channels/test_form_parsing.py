"""Our webhook form reader reads exactly what the standard library's parse_qsl reads (blank values kept, bad UTF-8
replaced, the first of a repeated field kept), for any bytes: hostile bodies, real Twilio forms, encoded or not."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.twilio_sms import parse_form

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
