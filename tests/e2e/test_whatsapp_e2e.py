"""WhatsApp end to end against Twilio's own API description (the Prism mock in ../shared/peers/twilio): a resident
joins in Vietnamese, answers a poll with a quick-reply button, goes quiet for 25 hours (a fixed clock), and the next
broadcast reaches them as the Vietnamese template, by ContentSid and ContentVariables. The app runs in process (its
clock is fixed); every send goes through the real twilio client to Prism, which checks each request against the spec.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.clock import FixedClock
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.broadcasts.audiences import parse_audience
from bot.engagement.polls import definition
from bot.runtime import Runtime
from bot.store.engagement import Answer
from bot.web.app import create_app
from tests.conftest import make_settings
from tests.support.peers import TwilioMock, twilio_mock
from tests.support.whatsapp import OUR_WHATSAPP, START, VI_BROADCAST, WhatsAppWorld, join_in_vietnamese

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

BUTTONS_3 = "HX" + "b3" * 16
POLL = """\
kind: poll
spec_version: 1
slug: clinic-hours
title: {"*": Clinic hours}
keywords: {vi: GIO KHAM, en: HOURS}
questions:
  - id: best_time
    kind: single
    text: {vi: "Giờ nào phòng khám nên mở cửa?", "*": "When should the clinic open?"}
    options:
      - {value: morning, label: {vi: Buổi sáng, "*": Mornings}}
      - {value: evening, label: {vi: Buổi tối, "*": Evenings}}
      - {value: weekend, label: {vi: Cuối tuần, "*": Weekends}}
thanks: {vi: "Cảm ơn bạn!", "*": "Thank you!"}
"""


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwilioMock]:
    with twilio_mock(log_dir=tmp_path_factory.mktemp("prism"), dynamic=True) as mock:
        yield mock


@pytest.fixture
def world(prism: TwilioMock, tmp_path: Path) -> Iterator[WhatsAppWorld]:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'whatsapp.db'}",
        LOOPLINE_TWILIO_WHATSAPP_FROM=OUR_WHATSAPP,
        LOOPLINE_TWILIO_API_BASE=prism.base_url,
    )
    clock = FixedClock(at=START)
    runtime = Runtime(settings, clock=clock)
    runtime.prepare(migrate=True)

    def sent() -> list[dict[str, str]]:
        time.sleep(0.3)  # Prism writes its log a moment after it answers
        found = prism.requests("/Messages.json", "POST")
        assert all(r.status == 201 for r in found), [(r.status, r.error) for r in found]  # valid by Twilio's spec
        return [r.params for r in found]

    yield WhatsAppWorld(runtime, TestClient(create_app(runtime, deliver=False)), sent, clock)
    runtime.close()


def test_whatsapp_resident_answers_a_poll_with_a_button_and_later_gets_the_vietnamese_template(
    world: WhatsAppWorld,
) -> None:
    number = "+84907654321"
    world.register("buttons", "*", BUTTONS_3, buttons=3)
    world.register("broadcast", "vi", VI_BROADCAST)
    with world.runtime.db.transaction() as session:
        definition.load_poll(session, yaml.safe_load(POLL), world.runtime.flows, world.clock)
        definition.set_status(session, "clinic-hours", "open", world.clock.now())

    join_in_vietnamese(world, number)
    world.say(number, "GIO KHAM")
    question = next(r for r in world.deliver() if r.get("ContentSid") == BUTTONS_3)
    variables = json.loads(question["ContentVariables"])
    assert variables["1"] == "Giờ nào phòng khám nên mở cửa?"
    assert [variables[k] for k in ("2", "4", "6")] == ["Buổi sáng", "Buổi tối", "Cuối tuần"]
    world.say(number, "Buổi tối", payload=variables["5"])
    thanks = world.deliver()
    assert any("Cảm ơn bạn!" in r.get("Body", "") for r in thanks), thanks
    with world.runtime.db.transaction() as session:
        answer = session.scalars(select(Answer).where(Answer.question == "best_time")).one()
        assert (answer.channel, answer.locale, answer.value["value"]) == ("whatsapp", "vi", "evening")

    world.clock.at += timedelta(hours=25)
    notice = broadcasts.BroadcastFile(
        "Hours", {"vi": "Phòng khám sẽ mở cửa buổi tối từ tháng 4.", "en": "x"}, {}, False
    )
    with world.runtime.db.transaction() as session:
        now = world.clock.now()
        assert broadcasts.send(session, notice, parse_audience(""), (now, now), ("en", 0.0), "test")[1] == 1
    (template,) = world.deliver()
    assert template["To"] == f"whatsapp:{number}" and template["From"] == f"whatsapp:{OUR_WHATSAPP}"
    assert template["ContentSid"] == VI_BROADCAST and "Body" not in template
    assert json.loads(template["ContentVariables"]) == {"1": "Phòng khám sẽ mở cửa buổi tối từ tháng 4."}
