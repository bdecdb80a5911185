"""WhatsApp's rules without a database: Twilio's `whatsapp:` addresses and button presses, rendering choices as
quick replies, what goes inside and outside the 24-hour window, template variables, settings, error codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.render import render
from bot.channels.twilio_sms import TwilioSms, sender_address
from bot.channels.twilio_statuses import classify_error
from bot.channels.twilio_whatsapp import TwilioWhatsApp
from bot.cli.processes import startup_line
from bot.delivery.whatsapp import NO_TEMPLATE, shaped
from bot.messages import Address, Channel, Choice, Outbound, Reply, SendStatus
from bot.settings import SettingsError, load_settings
from bot.store.whatsapp import MAX_VARIABLE, Templates, template_purpose, template_variable, window_open
from tests.conftest import TWILIO_ENV

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
WA = Address(Channel.WHATSAPP, "+84901234567")
BUTTONS_2 = "HX" + "b2" * 16
VI = "HX" + "7e" * 16
VI_UPDATE = "HX" + "70" * 16
LIST_6 = "HX" + "16" * 16


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("whatsapp:+14155550100", Address(Channel.WHATSAPP, "+14155550100")),
        ("WhatsApp:+1 415 555 0100", Address(Channel.WHATSAPP, "+14155550100")),
        ("+14155550100", Address(Channel.SMS, "+14155550100")),
        ("12345", Address(Channel.SMS, "12345")),
        ("whatsapp:", None),
        ("whatsapp:12345", None),  # a short code has no WhatsApp
        ("whatsapp:whatsapp:+14155550100", None),
        ("messenger:123", None),
    ],
)
def test_sender_address(raw: str, expected: Address | None) -> None:
    assert sender_address(raw) == expected


def test_a_button_press_is_its_payload_and_the_profile_name_is_kept() -> None:
    twilio = TwilioSms(load_settings(TWILIO_ENV).twilio, None)  # type: ignore[arg-type]
    form = {
        "MessageSid": "SM" + "1" * 32,
        "AccountSid": TWILIO_ENV["LOOPLINE_TWILIO_ACCOUNT_SID"],
        "From": "whatsapp:+84901234567",
        "Body": "Tham gia",
        "ButtonText": "Tham gia",
        "ButtonPayload": "ask_consent|yes",
        "ProfileName": "  Lan  ",
    }
    inbound = twilio.parse(form, NOW)
    assert (inbound.address, inbound.text, inbound.is_button, inbound.display_name) == (
        WA,
        "ask_consent|yes",
        True,
        "Lan",
    )
    sms = twilio.parse({**form, "From": "+14155550100", "ButtonPayload": ""}, NOW)
    assert (sms.text, sms.is_button, sms.display_name) == ("Tham gia", False, None)  # a profile name is WhatsApp's


def test_choices_go_as_buttons_only_when_they_fit_whatsapps_quick_replies() -> None:
    two = Reply("Join?", (Choice("yes", "Join"), Choice("no", "No thanks")), question="ask_consent")
    rendered = render(two, WA)
    assert rendered.text == "Join?\n1 Join\n2 No thanks"  # the numbered fallback is always there
    assert rendered.lead == "Join?"
    assert [c.value for c in rendered.choices] == ["ask_consent|yes", "ask_consent|no"]
    ten = Reply("Pick", tuple(Choice(str(n), f"Option {n}") for n in range(10)), question="q")
    assert len(render(ten, WA).choices) == 10  # a list
    eleven = Reply("Pick", tuple(Choice(str(n), f"Option {n}") for n in range(11)))
    long_title = Reply("Pick", (Choice("a", "A title longer than twenty"), Choice("b", "B")))
    long_item = Reply("Pick", (*ten.choices[:4], Choice("x", "An item longer than twenty-four")))
    several = Reply("Pick any", (Choice("a", "A"), Choice("b", "B")), buttons=False)
    for reply in (eleven, long_title, long_item, several):
        assert render(reply, WA).choices == ()
    assert render(two, Address(Channel.SMS, "+14155550100")).choices == ()


def test_inside_the_window_buttons_need_a_registered_quick_reply() -> None:
    outbound = render(Reply("Join?", (Choice("yes", "Join"), Choice("no", "No")), question="q"), WA)
    recent = NOW - timedelta(hours=23, minutes=59)
    assert shaped(outbound, "reply", "vi", recent, NOW, Templates({}, {})) == outbound
    sent = shaped(outbound, "reply", "vi", recent, NOW, Templates({}, {2: BUTTONS_2}))
    assert isinstance(sent, Outbound) and sent.content_sid == BUTTONS_2
    assert json.loads(sent.content_variables) == {"1": "Join?", "2": "Join", "3": "q|yes", "4": "No", "5": "q|no"}
    assert shaped(outbound, "reply", "vi", recent, NOW, Templates({}, {3: BUTTONS_2})) == outbound


def test_inside_the_window_four_to_ten_choices_go_as_a_list_with_its_button_in_the_residents_language() -> None:
    languages = ("English", "Español", "中文", "Tiếng Việt", "العربية", "Français")
    menu = Reply("Chọn:", tuple(Choice(str(n), name) for n, name in enumerate(languages, 1)), question="q", locale="vi")
    outbound = render(menu, WA)
    recent = NOW - timedelta(hours=1)
    assert shaped(outbound, "reply", "vi", recent, NOW, Templates({}, {2: BUTTONS_2})) == outbound  # none for 6
    sent = shaped(outbound, "reply", "vi", recent, NOW, Templates({}, {}, {6: LIST_6}))
    assert isinstance(sent, Outbound) and sent.content_sid == LIST_6
    variables = json.loads(sent.content_variables)
    assert variables["1"] == "Chọn:" and variables["2"] == "Chọn"  # the button in the question's language
    assert [variables[str(n)] for n in (3, 5, 7, 9, 11, 13)] == list(languages)
    assert [variables[str(n)] for n in (4, 14)] == ["q|1", "q|6"]


@pytest.mark.parametrize(
    ("purpose", "templates", "expected"),
    [
        ("broadcast:12", {("broadcast", "vi"): VI}, VI),
        ("broadcast:12", {("update", "vi"): VI_UPDATE}, VI_UPDATE),  # the general one when the purpose has none
        ("decision:3", {("broadcast", "vi"): VI, ("update", "vi"): VI_UPDATE}, VI_UPDATE),
        ("reminder:4", {("reminder", "en"): VI, ("update", "es"): VI}, None),  # never another language's
        ("reminder:4", {}, None),
    ],
)
def test_outside_the_window_only_a_template_in_the_residents_language(
    purpose: str, templates: dict[tuple[str, str], str], expected: str | None
) -> None:
    outbound = Outbound(WA, "Tin mới\n1 Có\n2 Không")
    stale = NOW - timedelta(hours=24)
    for last in (stale, None):
        result = shaped(outbound, purpose, "vi", last, NOW, Templates(templates, {2: BUTTONS_2}))
        if expected is None:
            assert result == f"{NO_TEMPLATE} {template_purpose(purpose)} in vi"
        else:
            assert isinstance(result, Outbound) and result.content_sid == expected
            assert json.loads(result.content_variables) == {"1": "Tin mới · 1 Có · 2 Không"}


def test_the_window_is_24_hours_from_the_residents_last_message() -> None:
    assert window_open(NOW - timedelta(hours=23, minutes=59, seconds=59), NOW)
    assert not window_open(NOW - timedelta(hours=24), NOW)
    assert not window_open(None, NOW)


@given(st.text(max_size=3000))
def test_a_template_variable_has_no_new_lines_tabs_or_runs_of_spaces(text: str) -> None:
    variable = template_variable(text)
    assert "\n" not in variable and "\t" not in variable and "    " not in variable
    assert len(variable) <= MAX_VARIABLE
    words = " ".join(text.split())
    assert variable.replace(" · ", " ").startswith(words[: min(len(words), MAX_VARIABLE) // 2].rstrip())


def test_whatsapp_sends_content_or_text_from_the_whatsapp_sender() -> None:
    settings = load_settings({**TWILIO_ENV, "LOOPLINE_TWILIO_WHATSAPP_FROM": "whatsapp:+15005550007"})
    assert settings.twilio is not None
    adapter = TwilioWhatsApp(TwilioSms(settings.twilio, None), "+15005550007")
    assert adapter.params(Outbound(WA, "Hi")) == {
        "to": "whatsapp:+84901234567",
        "from_": "whatsapp:+15005550007",
        "body": "Hi",
    }
    content = Outbound(WA, "Hi", content_sid=VI, content_variables='{"1":"Hi"}')
    assert adapter.params(content) == {
        "to": "whatsapp:+84901234567",
        "from_": "whatsapp:+15005550007",
        "content_sid": VI,
        "content_variables": '{"1":"Hi"}',
    }


def test_whatsapp_settings() -> None:
    only_whatsapp = {k: v for k, v in TWILIO_ENV.items() if k != "LOOPLINE_TWILIO_FROM"}
    settings = load_settings({**only_whatsapp, "LOOPLINE_TWILIO_WHATSAPP_FROM": "+1 500 555 0007"})
    assert settings.twilio is not None and settings.twilio.whatsapp_from == "+15005550007"
    assert "whatsapp" in settings.live_channels and "sms" not in settings.live_channels
    assert load_settings({**TWILIO_ENV, "LOOPLINE_WHATSAPP_MESSAGES_PER_SECOND": "20"}).whatsapp_per_second == 20
    with pytest.raises(SettingsError, match="LOOPLINE_TWILIO_WHATSAPP_FROM"):
        load_settings({**TWILIO_ENV, "LOOPLINE_TWILIO_WHATSAPP_FROM": "whatsapp:call-me"})
    with pytest.raises(SettingsError, match="LOOPLINE_TWILIO_FROM"):
        load_settings(only_whatsapp)
    with pytest.raises(SettingsError, match="LOOPLINE_WHATSAPP_MESSAGES_PER_SECOND"):
        load_settings({**TWILIO_ENV, "LOOPLINE_WHATSAPP_MESSAGES_PER_SECOND": "0"})


@pytest.mark.parametrize(
    ("code", "status", "opted_out", "unreachable"),
    [
        (63014, SendStatus.FAILED, True, False),  # the user blocked the number
        (63003, SendStatus.FAILED, False, True),  # no WhatsApp account at that number
        (63024, SendStatus.FAILED, False, True),
        (63018, SendStatus.RETRY, False, False),  # WhatsApp's rate limit
        (63016, SendStatus.FAILED, False, False),  # outside the window: this message, not the resident
    ],
)
def test_whatsapp_error_codes(code: int, status: SendStatus, opted_out: bool, unreachable: bool) -> None:
    result = classify_error(code, 400, "error")
    assert (result.status, result.opted_out, result.unreachable) == (status, opted_out, unreachable)


def test_serve_names_whatsapp_and_its_webhook_when_it_is_live() -> None:
    only_whatsapp = {k: v for k, v in TWILIO_ENV.items() if k != "LOOPLINE_TWILIO_FROM"}
    env = {**only_whatsapp, "LOOPLINE_TWILIO_WHATSAPP_FROM": "+15005550007", "LOOPLINE_PUBLIC_URL": "https://x.example"}
    line = startup_line(load_settings(env), "http://127.0.0.1:8000")
    assert "whatsapp (the WhatsApp sender's webhook: POST https://x.example/webhooks/twilio/sms)" in line
    assert "sms (" not in line
