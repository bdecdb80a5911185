"""A WhatsApp resident as Twilio carries them, for tests: signed webhooks into the real app on a fixed clock, the
delivery worker run on demand, and what reached the Messages API (a local stand-in or the Prism mock)."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.clock import FixedClock
from bot.engagement import whatsapp_templates
from bot.runtime import Runtime
from tests.conftest import TWILIO_ENV

AUTH_TOKEN = TWILIO_ENV["LOOPLINE_TWILIO_AUTH_TOKEN"]
ACCOUNT_SID = TWILIO_ENV["LOOPLINE_TWILIO_ACCOUNT_SID"]
OUR_WHATSAPP = "+15005550007"
SMS_URL = "http://testserver/webhooks/twilio/sms"
STATUS_URL = "http://testserver/webhooks/twilio/status"
BUTTONS_2 = "HX" + "b2" * 16
VI_BROADCAST = "HX" + "7e" * 16
EN_UPDATE = "HX" + "e0" * 16
START = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # an afternoon: no quiet hours in the program's zone (UTC)
_sids = itertools.count(1)


def next_sid() -> str:
    """A MessageSid no other message of the run has."""
    return f"SM{next(_sids):032x}"


@dataclass
class WhatsAppWorld:
    """The app, its runtime on a fixed clock, and what reached the Messages API (each request's form)."""

    runtime: Runtime
    client: TestClient
    sent: Callable[[], list[dict[str, str]]]
    clock: FixedClock

    def post(self, url: str, form: dict[str, str]) -> str:
        signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
        response = self.client.post(
            url.removeprefix("http://testserver"), data=form, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code in (200, 204), response.text
        return response.text

    def say(self, number: str, body: str = "", *, payload: str = "", media: str = "") -> str:
        """The resident at `number` writes on WhatsApp (a button press carries its payload); the TwiML answer."""
        form = {
            "MessageSid": next_sid(),
            "AccountSid": ACCOUNT_SID,
            "From": f"whatsapp:{number}",
            "To": f"whatsapp:{OUR_WHATSAPP}",
            "Body": body,
            "NumMedia": "1" if media else "0",
            "ProfileName": "Lan",
            "WaId": number.lstrip("+"),
        }
        if payload:
            form |= {"ButtonPayload": payload, "ButtonText": body, "MessageType": "button"}
        if media:
            form |= {"MediaUrl0": media, "MediaContentType0": "image/jpeg"}
        return self.post(SMS_URL, form)

    def deliver(self) -> list[dict[str, str]]:
        """Run the delivery worker once; the requests it made to the Messages API."""
        before = len(self.sent())
        asyncio.run(self.runtime.worker.run_once())
        return self.sent()[before:]

    def register(self, purpose: str, locale: str, sid: str, buttons: int = 0) -> None:
        wanted = whatsapp_templates.checked(purpose, locale, buttons, sid, f"{purpose}_{locale}")
        with self.runtime.db.transaction() as session:
            whatsapp_templates.register(session, wanted, "test", self.clock.now())


def join_in_vietnamese(world: WhatsAppWorld, number: str) -> dict[str, str]:
    """Join as a Vietnamese speaker, accepting with the quick-reply button (a two-button content registered first);
    the consent question's request."""
    world.register("buttons", "*", BUTTONS_2, buttons=2)
    assert "<Message" not in world.say(number, "Xin chào, tôi muốn biết thêm thông tin")  # no TwiML reply on WhatsApp
    (menu,) = world.deliver()
    assert menu["To"] == f"whatsapp:{number}" and menu["From"] == f"whatsapp:{OUR_WHATSAPP}"
    assert "ContentSid" not in menu  # six languages: more than WhatsApp's three session buttons, so numbers
    choice = re.search(r"(\d+) Tiếng Việt", menu["Body"])
    assert choice is not None, menu["Body"]
    world.say(number, choice.group(1))
    (consent,) = world.deliver()
    assert consent["ContentSid"] == BUTTONS_2 and "Body" not in consent
    variables = json.loads(consent["ContentVariables"])
    assert set(variables) == {"1", "2", "3", "4", "5"}
    world.say(number, variables["2"], payload=variables["3"])  # the first button: join
    welcome = world.deliver()
    assert welcome and all("ContentSid" not in r for r in welcome)  # no choices in the welcome: plain text
    return consent
