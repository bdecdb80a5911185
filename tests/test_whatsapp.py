"""WhatsApp through Twilio, in process on both databases: signed webhooks into the real app, replies through the
outbox and the real Twilio client against a local stand-in of the Messages API; the 24-hour window, quick-reply
buttons, templates per language, the broadcast preview's refusal, cross-channel STOP and merge, statuses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.cli import main
from bot.clock import FixedClock
from bot.delivery.worker import PACE_MARGIN
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.broadcasts.audiences import parse_audience
from bot.engagement.residents.merge import merge
from bot.messages import Address as ChannelAddress
from bot.messages import Channel, Outbound
from bot.runtime import Runtime
from bot.states import Consent
from bot.store.models import Address, Message, OutboxItem, Resident
from bot.store.whatsapp import registered
from bot.web.app import create_app
from tests.conftest import make_settings
from tests.support.flaky_twilio import flaky_twilio
from tests.support.whatsapp import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUTTONS_2,
    EN_UPDATE,
    OUR_WHATSAPP,
    SMS_URL,
    START,
    STATUS_URL,
    VI_BROADCAST,
    WhatsAppWorld,
    join_in_vietnamese,
    next_sid,
)


@pytest.fixture
def world(database_url: str) -> Iterator[WhatsAppWorld]:
    with flaky_twilio(fail_first=0, throttle_share=0.0) as provider:
        settings = make_settings(
            database_url,
            LOOPLINE_TWILIO_WHATSAPP_FROM=f"whatsapp:{OUR_WHATSAPP}",
            LOOPLINE_TWILIO_API_BASE=provider.base_url,
        )
        clock = FixedClock(at=START)
        runtime = Runtime(settings, clock=clock)
        runtime.prepare(migrate=True)
        # Not `with TestClient(...)`: the lifespan (polling, delivery) is not entered; the test runs the worker.
        yield WhatsAppWorld(runtime, TestClient(create_app(runtime, deliver=False)), lambda: provider.forms, clock)
        runtime.close()


def test_a_resident_joins_with_a_button_and_outside_the_window_gets_their_languages_template(
    world: WhatsAppWorld,
) -> None:
    number = "+84901234567"
    join_in_vietnamese(world, number)
    with world.runtime.db.transaction() as session:
        resident = session.scalars(
            select(Resident).join(Address).where(Address.channel == "whatsapp", Address.value == number)
        ).one()
        assert (resident.locale, resident.consent, resident.display_name) == ("vi", "granted", "Lan")

    world.clock.at += timedelta(hours=25)
    notice = broadcasts.BroadcastFile(
        "Clinic", {"vi": "Phòng khám mở cửa lúc 9 giờ\nsáng thứ Bảy.", "en": "x"}, {}, False
    )

    def send() -> int:
        with world.runtime.db.transaction() as session:
            now = world.clock.now()
            return broadcasts.send(session, notice, parse_audience(""), (now, now), ("en", 0.0), "test")[1]

    with pytest.raises(broadcasts.NotSent, match=r"24-hour window.*Tiếng Việt \(vi\): 1"):
        send()
    world.register("broadcast", "vi", VI_BROADCAST)
    with world.runtime.db.transaction() as session:
        found = broadcasts.preview(session, notice, parse_audience(""), "en", 0.0, at=world.clock.now())
        (window,) = found.whatsapp
        assert (window.locale, window.inside, window.outside, window.template) == ("vi", 0, 1, VI_BROADCAST)
    assert send() == 1
    (template,) = world.deliver()
    assert template["ContentSid"] == VI_BROADCAST and "Body" not in template
    # WhatsApp refuses new lines in a variable: the text's lines are joined.
    assert json.loads(template["ContentVariables"]) == {"1": "Phòng khám mở cửa lúc 9 giờ · sáng thứ Bảy."}


def test_inside_the_window_text_goes_as_written_and_a_missing_template_skips_with_a_reason(
    world: WhatsAppWorld,
) -> None:
    number = "+84901234568"
    join_in_vietnamese(world, number)
    resident_id = _resident(world, number)
    _queue(world, resident_id, number, "reminder:7", "Nhắc nhở: buổi họp ngày mai.")
    (free,) = world.deliver()
    assert free["Body"] == "Nhắc nhở: buổi họp ngày mai." and "ContentSid" not in free

    world.clock.at += timedelta(hours=24, seconds=1)
    world.register("update", "en", EN_UPDATE)  # another language's template is never used
    key = _queue(world, resident_id, number, "reminder:8", "Nhắc nhở lần hai.")
    assert world.deliver() == []
    with world.runtime.db.transaction() as session:
        row = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == key)).one()
        assert row.status == "skipped"
        assert row.last_error == "outside WhatsApp's 24-hour window, and no template for reminder in vi"


def test_stop_on_whatsapp_stops_every_channel_and_records_merge(world: WhatsAppWorld) -> None:
    number, phone = "+84901234569", "+14155550177"
    join_in_vietnamese(world, number)
    sms = world.client.post  # the same person texts by SMS too: a second record, merged by staff
    form = {"MessageSid": next_sid(), "AccountSid": ACCOUNT_SID, "From": phone, "Body": "hola"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(SMS_URL, form)
    assert sms("/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}).status_code == 200
    keep, other = _resident(world, number), _resident(world, phone, "sms")
    with world.runtime.db.transaction() as session:
        merge(session, keep, other, world.clock.now())
    with world.runtime.db.transaction() as session:
        channels = set(session.scalars(select(Address.channel).where(Address.resident_id == keep)))
        assert channels == {"whatsapp", "sms"}
    queued = _queue(world, keep, phone, "broadcast:99", "Noticia por SMS.", channel="sms")

    world.say(number, "STOP")
    with world.runtime.db.transaction() as session:
        assert session.get(Resident, keep).consent == Consent.REVOKED  # type: ignore[union-attr]
        row = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == queued)).one()
        assert row.status == "cancelled", row.status
    confirmation = world.deliver()
    assert [r["To"] for r in confirmation] == [f"whatsapp:{number}"]  # the STOP's answer only, on WhatsApp


@pytest.mark.parametrize(
    ("status", "code", "consent", "reachable"),
    [
        ("read", None, Consent.GRANTED, True),
        ("undelivered", "63014", Consent.REVOKED, True),
        ("failed", "63003", Consent.GRANTED, False),
    ],
    ids=["read", "blocked-by-user", "not-on-whatsapp"],
)
def test_status_callbacks_move_a_whatsapp_message_and_act_on_the_resident(
    world: WhatsAppWorld, status: str, code: str | None, consent: str, reachable: bool
) -> None:
    number = "+84901234570"
    join_in_vietnamese(world, number)
    with world.runtime.db.transaction() as session:
        sid = session.scalars(
            select(Message.provider_id).where(Message.channel == "whatsapp", Message.direction == "out")
        ).first()
    assert sid
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": ACCOUNT_SID, "From": f"whatsapp:{OUR_WHATSAPP}"}
    if code:
        form["ErrorCode"] = code
    world.post(STATUS_URL, form)
    with world.runtime.db.transaction() as session:
        assert session.scalars(select(Message.status).where(Message.provider_id == sid)).one() == status
        address = session.scalars(select(Address).where(Address.channel == "whatsapp", Address.value == number)).one()
        assert address.reachable is reachable
        assert session.get(Resident, address.resident_id).consent == consent  # type: ignore[union-attr]


def test_a_whatsapp_message_without_a_whatsapp_sender_is_kept_as_a_dead_letter(database_url: str) -> None:
    runtime = Runtime(make_settings(database_url))
    runtime.prepare(migrate=True)
    try:
        client = TestClient(create_app(runtime, deliver=False))
        form = {"MessageSid": "SM" + "a" * 32, "AccountSid": ACCOUNT_SID, "From": "whatsapp:+84901234571", "Body": "hi"}
        signature = RequestValidator(AUTH_TOKEN).compute_signature(SMS_URL, form)
        response = client.post("/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature})
        assert response.status_code == 200
        with runtime.db.transaction() as session:
            assert session.scalars(select(Message).where(Message.channel == "whatsapp")).first() is None
    finally:
        runtime.close()


def _resident(world: WhatsAppWorld, value: str, channel: str = "whatsapp") -> int:
    with world.runtime.db.transaction() as session:
        return int(
            session.scalars(select(Address.resident_id).where(Address.channel == channel, Address.value == value)).one()
        )


def _queue(
    world: WhatsAppWorld, resident_id: int, address: str, purpose: str, text: str, channel: str = "whatsapp"
) -> str:
    key = f"test:{purpose}:{next_sid()}"
    now = world.clock.now()
    with world.runtime.db.transaction() as session:
        session.add(
            OutboxItem(
                idempotency_key=key, purpose=purpose, resident_id=resident_id, channel=channel, address=address,
                text=text, choices={}, status="pending", urgent=False, attempts=0, not_before=now, created_at=now,
            )
        )  # fmt: skip
    return key


TEMPLATES_FILE = """\
kind: whatsapp-templates
slug: whatsapp
templates:
  - {purpose: broadcast, language: vi, content_sid: HX7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e7e, label: tin_tuc_vi}
  - {purpose: buttons, buttons: 2, content_sid: HXb2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2}
  - {purpose: list, items: 6, content_sid: HX16161616161616161616161616161616}
"""


def test_templates_load_from_a_content_file_and_its_errors_name_their_lines(runtime: Runtime, tmp_path: Path) -> None:
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEMPLATES_FILE.replace("language: vi", "language: xx").replace("HXb2b2", "HXzz"), encoding="utf-8")
    result = CliRunner().invoke(main, ["flows", "validate", str(bad)], env=env)
    assert result.exit_code == 1
    assert [line.split(": ", 2)[0] for line in result.output.splitlines()] == [f"{bad}:4", f"{bad}:5"]
    assert "Language must be one of" in result.output and "HX followed by 32" in result.output
    good = tmp_path / "whatsapp.yaml"
    good.write_text(TEMPLATES_FILE, encoding="utf-8")
    loaded = CliRunner().invoke(main, ["flows", "load", str(good)], env=env)
    assert loaded.exit_code == 0 and "registered 3 WhatsApp contents" in loaded.output, loaded.output
    with runtime.db.transaction() as session:
        templates = registered(session)
    assert templates.for_notice("broadcast", "vi") == BUTTONS_2.replace("b2", "7e")
    assert templates.buttons == {2: BUTTONS_2}
    assert templates.lists == {6: "HX" + "16" * 16}


def test_whatsapp_is_paced_per_sender_through_the_shared_buckets(world: WhatsAppWorld) -> None:
    worker = world.runtime.worker
    ((limit, cost),) = worker.limits(Outbound(ChannelAddress(Channel.WHATSAPP, "+84901234567"), "Xin chào " * 300))
    assert limit.key == f"whatsapp:{OUR_WHATSAPP}" and cost == 1.0  # a message, whatever its length
    assert limit.per_second == pytest.approx(80 * PACE_MARGIN)


def test_the_language_menu_goes_as_a_list_when_one_is_registered(world: WhatsAppWorld) -> None:
    number = "+84901234580"
    list_6 = "HX" + "16" * 16
    world.register("list", "*", list_6, buttons=6)
    world.say(number, "Xin chào, tôi muốn hỏi về lịch tiêm chủng")
    (menu,) = world.deliver()
    assert menu["ContentSid"] == list_6 and "Body" not in menu
    variables = json.loads(menu["ContentVariables"])
    assert variables["2"] == "Chọn"  # the list's button, in the language the message seems written in
    titles = {variables[str(n)]: variables[str(n + 1)] for n in range(3, 15, 2)}
    assert next(iter(titles)) == "Tiếng Việt" and len(titles) == 6
    world.say(number, "Tiếng Việt", payload=titles["Tiếng Việt"])
    (consent,) = world.deliver()
    assert "Bạn muốn tham gia?" in consent.get("Body", "") or "Bạn muốn tham gia?" in consent.get(
        "ContentVariables", ""
    )
