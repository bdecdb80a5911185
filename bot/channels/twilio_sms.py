"""Twilio SMS: signature check with the real RequestValidator, inbound parsing, TwiML replies and REST sends (what
Twilio's statuses and error codes mean is in twilio_statuses, which needs no Twilio library)."""

from __future__ import annotations

import functools
import hmac
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit
from xml.sax.saxutils import escape

import anyio
import phonenumbers
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import InvalidInbound
from bot.channels.twilio_statuses import classify_error
from bot.ids import plain_number
from bot.messages import Address, Channel, Inbound, MediaRef, Outbound, SendResult, SendStatus
from bot.settings import TwilioSettings

SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
MAX_BODY_BYTES = 64 * 1024
_SID = re.compile(r"(SM|MM|SMS)[0-9a-zA-Z]{16,40}|[A-Za-z0-9]{10,64}")
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
log = logging.getLogger("loopline.twilio")
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
WHATSAPP_PREFIX = "whatsapp:"
MAX_MEDIA = 10  # Twilio sends at most 10 media per message
_KEPT = ("NumSegments", "NumMedia", "OptOutType", "To", "FromZip", "ButtonText", "WaId")


def parse_form(body: bytes) -> dict[str, str]:
    """Decode an application/x-www-form-urlencoded body without ever raising (bad UTF-8 becomes U+FFFD); the first
    of a repeated field wins. What `parse_qsl(…, keep_blank_values=True, errors="replace")` reads, pair for pair (a
    property test holds it to that), in a third of its time: every webhook starts here."""
    form: dict[str, str] = {}
    for pair in body.decode("latin-1").split("&"):
        if pair:
            key, _, value = pair.partition("=")
            form.setdefault(_form_field(key), _form_field(value))
    return form


def _form_field(raw: str) -> str:
    if "+" in raw:
        raw = raw.replace("+", " ")
    return unquote(raw, encoding="utf-8", errors="replace") if "%" in raw else raw


@functools.lru_cache(maxsize=8192)  # residents write again and again from the same few thousand numbers
def normalise_phone(raw: str) -> str | None:
    """E.164 for a phone number, the digits of a short code, None for anything else."""
    value = raw.strip()
    if value.startswith("whatsapp:"):
        return None
    digits = value.lstrip("+")
    if digits.isascii() and digits.isdigit() and 3 <= len(digits) <= 8 and not value.startswith("+"):
        return digits  # a short code
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def sender_address(raw: str) -> Address | None:
    """The channel address of a Twilio `From`: `whatsapp:+E164` is a WhatsApp address (kept as the bare number),
    anything else a phone number or short code on SMS; None when it is neither."""
    value = raw.strip()
    if value[:9].lower() == WHATSAPP_PREFIX:
        number = normalise_phone(value[9:])
        return Address(Channel.WHATSAPP, number) if number and number.startswith("+") else None
    number = normalise_phone(value)
    return Address(Channel.SMS, number) if number else None


def media_refs(form: Mapping[str, str]) -> tuple[MediaRef, ...]:
    """The files Twilio says came with the message (MMS or WhatsApp): MediaUrl0…N with their declared types."""
    count = min(plain_number(form.get("NumMedia", "0"), MAX_MEDIA) or 0, MAX_MEDIA)
    refs = []
    for index in range(count):
        url = form.get(f"MediaUrl{index}", "").strip()
        if url.startswith("https://") or url.startswith("http://"):
            refs.append(MediaRef(url, form.get(f"MediaContentType{index}", "").strip().lower() or None))
    return tuple(refs)


class _SignedForm(dict[str, str]):
    """A form as twilio's validator reads a Flask MultiDict, through its getall (one value per field, the first, as
    parse_form keeps): else the validator tries two other kinds of dict first, raising and catching an exception
    for each, for every field of every webhook."""

    def getall(self, name: str) -> list[str]:
        return [self[name]]


class RewritingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The real Twilio HTTP client, sending every request to another base URL (a mock such as Prism)."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base = urlsplit(base_url)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        url = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, parts.fragment))
        return super().request(method, url, *args, **kwargs)


class TwilioSms:
    """The Twilio SMS channel adapter."""

    channel = Channel.SMS

    def __init__(self, settings: TwilioSettings, public_url: str | None) -> None:
        self.settings = settings
        self.public_url = public_url
        self.validator = RequestValidator(settings.auth_token)
        http = RewritingHttpClient(settings.api_base, timeout=10) if settings.api_base else TwilioHttpClient(timeout=10)
        self.client = Client(settings.account_sid, settings.auth_token, http_client=http)

    def signed_url(self, request_url: str) -> str:
        """The URL Twilio signed: the configured public base + path and query, else the URL we were called on."""
        if not self.public_url:
            return request_url
        called = urlsplit(request_url)
        base = urlsplit(self.public_url)
        path = base.path.rstrip("/") + called.path
        return urlunsplit((base.scheme, base.netloc, path, called.query, ""))

    def verify(self, request_url: str, form: Mapping[str, str], signature: str | None) -> bool:
        """True when X-Twilio-Signature matches; checked before the form is used for anything."""
        if not signature:
            return False
        url, params = self.signed_url(request_url), _SignedForm(form)
        # The URL as it came first (the usual case, one signature to compute); else the validator's own check,
        # which also tries it with and without the port.
        if "bodySHA256" not in url and hmac.compare_digest(self.validator.compute_signature(url, params), signature):
            return True
        return bool(self.validator.validate(url, params, signature))

    def parse(self, form: Mapping[str, str], received_at: datetime) -> Inbound:
        """An Inbound from an authentic webhook form; InvalidInbound when something essential is missing."""
        sid = form.get("MessageSid") or form.get("SmsSid") or ""
        if not _SID.fullmatch(sid):
            raise InvalidInbound("MessageSid is missing or malformed")
        if form.get("AccountSid") not in (None, "", self.settings.account_sid):
            raise InvalidInbound("AccountSid is not this account")
        address = sender_address(form.get("From", ""))
        if address is None:
            raise InvalidInbound("From is missing or not a phone number")
        raw = {k: v for k, v in form.items() if k in _KEPT}
        payload = form.get("ButtonPayload", "").strip()
        text = payload or form.get("Body", "")
        profile = form.get("ProfileName", "").strip()[:120] or None
        return Inbound(
            address,
            text[:5000],
            sid,
            received_at,
            display_name=profile if address.channel is Channel.WHATSAPP else None,
            is_button=bool(payload),
            raw=raw,
            media=media_refs(form),
        )

    @staticmethod
    def provider_replied(inbound: Inbound) -> bool:
        """Twilio Advanced Opt-Out already answered STOP/START/HELP itself when it sets OptOutType."""
        return bool(inbound.raw.get("OptOutType"))

    @staticmethod
    def twiml(texts: Sequence[str]) -> str:
        """The TwiML response: one <Message> per reply, or an empty <Response/> (what twilio's MessagingResponse
        writes, character for character, without building an element tree for every webhook)."""
        if not texts:
            return _XML_DECLARATION + "<Response />"
        messages = "".join(f"<Message>{escape(t)}</Message>" if t else "<Message />" for t in texts)
        return f"{_XML_DECLARATION}<Response>{messages}</Response>"

    def _create(self, params: dict[str, str]) -> str:
        if self.public_url:
            params["status_callback"] = self.public_url.rstrip("/") + STATUS_PATH
        message = self.client.messages.create(**params)
        return str(message.sid)

    def sms_params(self, outbound: Outbound) -> dict[str, str]:
        """The REST API's parameters for an SMS: to, the body, and the number or messaging service it goes from."""
        if self.settings.messaging_service_sid:
            return {
                "to": outbound.address.value,
                "body": outbound.text,
                "messaging_service_sid": self.settings.messaging_service_sid,
            }
        return {"to": outbound.address.value, "body": outbound.text, "from_": self.settings.from_number or ""}

    async def warm(self, in_flight: int = 1) -> None:
        """Get ready to have `in_flight` sends at once: keep that many connections open (requests keeps 10, and
        twilio's client mounts min(32, CPUs + 4) for HTTPS, 6 on two cores; sends beyond the pool open connections
        of their own, closed when they come back to a full pool, so that every burst above it opens new ones, a TLS
        handshake each), then open one (a cheap authenticated read), so that the first send is not slowed by it."""
        self._keep_open(in_flight)
        try:
            await anyio.to_thread.run_sync(self.client.api.v2010.accounts(self.settings.account_sid).fetch)
        except (TwilioRestException, OSError, ValueError) as exc:  # ValueError: an answer that is not JSON
            log.info("twilio warm-up: %s", type(exc).__name__)

    def _keep_open(self, connections: int) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is None:  # a client without a connection pool
            return
        for prefix in ("https://", "http://"):
            current = session.get_adapter(prefix)
            if isinstance(current, HTTPAdapter) and getattr(current, "_pool_maxsize", 0) >= connections:
                continue
            session.mount(prefix, HTTPAdapter(pool_maxsize=connections, max_retries=getattr(current, "max_retries", 0)))

    async def send(self, outbound: Outbound) -> SendResult:
        """Send an SMS through the REST API and classify the outcome."""
        return await self.create(self.sms_params(outbound))

    async def create(self, params: dict[str, str]) -> SendResult:
        """Create one message through the REST API (the blocking client runs in a worker thread) and classify the
        outcome; every Twilio channel sends through here."""
        try:
            sid = await anyio.to_thread.run_sync(self._create, params)
        except TwilioRestException as exc:
            return classify_error(exc.code, exc.status, str(exc.msg))
        except OSError as exc:  # connection refused, DNS, timeouts from requests are OSError subclasses
            return SendResult(SendStatus.RETRY, error=type(exc).__name__)
        return SendResult(SendStatus.SENT, provider_id=sid)
