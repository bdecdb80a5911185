"""Broadcasts end to end: one `loopline serve` process with SMS (signed Twilio webhooks, Prism for the
REST API) and Telegram (webhook mode, the Bot API emulator) live on a SQLite file; residents join for
real through the server; `loopline broadcast preview|send|status` run as subprocesses on the same
database while the server's delivery loop sends what they queue.

Checked: one message per eligible resident in their language (SMS smart-encoded as the code renders
it), nothing for a resident who said STOP (before the broadcast: not a recipient; while it was queued:
its row cancelled), a resident where it is night held for quiet hours, a resident over the frequency cap
held; an urgent broadcast reaching both of those; a file without a recipient's language refused unless
`--fallback` is given.

Quiet hours depend on the wall clock, so the zones are chosen from the current UTC time: the program's
time zone (LOOPLINE_TIMEZONE, used for residents without one) is one where it is early afternoon, the
night-time resident's one where it is between 02:00 and 03:00.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from bot.channels.render import render
from bot.engagement.broadcasts.sending import compose, parse_broadcast
from bot.i18n.negotiation import text_direction
from bot.messages import Address, Channel, Reply
from bot.store.models import OutboxItem
from tests.e2e import (
    ABOUT_ME_OFFER,
    AREA_PROMPT,
    CONSENT_PROMPT,
    FINISH,
    MENU_PROMPT,
    STOPPED,
    WELCOME,
    about_me_offer,
    base_env,
    clean_os_env,
    consent_question,
    expected,
    language_menu,
    query,
    scalar,
    sqlite_engine,
    wait_until,
)
from tests.support import peers
from tests.support.peers import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    LooplineServer,
    PrismRequest,
    TelegramEmulator,
    TwilioMock,
    free_port,
    loopline_server,
    sign_twilio,
    telegram_emulator,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SMS_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
OUR_NUMBER = "+15005550006"

# SMS residents: number -> language. Menu positions in onboarding.yaml: en 1, es 2, zh_Hans 3, vi 4, ar 5, fr 6.
SMS_EN, SMS_ES, SMS_AR = "+14155550201", "+14155550202", "+14155550203"
SMS_NIGHT = "+14155550204"  # English, where it is night: held for quiet hours
SMS_STOP_QUEUED = "+14155550205"  # Spanish, says STOP while the broadcast is queued
SMS_STOP_BEFORE = "+14155550206"  # English, said STOP before the broadcast: not a recipient
SMS_RESIDENTS = {
    SMS_EN: "en",
    SMS_ES: "es",
    SMS_AR: "ar",
    SMS_NIGHT: "en",
    SMS_STOP_QUEUED: "es",
    SMS_STOP_BEFORE: "en",
}
MENU_POSITION = {"en": "1", "es": "2", "vi": "4", "ar": "5"}

# Telegram residents: chat id -> language.
TG_ES, TG_VI = 5101, 5102
TG_CAPPED = 5103  # Vietnamese, already got three broadcasts this week: held by the frequency cap
TG_RESIDENTS = {TG_ES: "es", TG_VI: "vi", TG_CAPPED: "vi"}

# Curly quotes, an em dash and an apostrophe in English: smart encoding keeps it GSM-7.
# Spanish "á"/"ó" and Arabic and Vietnamese are UCS-2 whatever is done. No zh: nobody speaks it.
FLU_TEXTS = {
    "en": "Free flu shots on Saturday — bring your “vaccine card”. It’s free!",
    "es": "Vacunas gratis el sábado. Traiga su carnet de vacunación.",
    "ar": "لقاحات الإنفلونزا مجانية يوم السبت.",
    "vi": "Tiêm phòng cúm miễn phí vào thứ Bảy.",
}
FLU: dict[str, Any] = {"name": "flu-shots", "text": FLU_TEXTS}
STORM: dict[str, Any] = {
    "name": "storm-warning",
    "urgent": True,
    "text": {
        "en": "Storm warning: the clinic is closed today.",
        "es": "Alerta de tormenta: la clínica cierra hoy.",
        "ar": "تحذير من عاصفة: العيادة مغلقة اليوم.",
        "vi": "Cảnh báo bão: phòng khám đóng cửa hôm nay.",
    },
}
# No Vietnamese: refused (two Vietnamese residents on Telegram) unless --fallback.
NO_VI: dict[str, Any] = {"name": "food-bank", "text": {k: v for k, v in FLU_TEXTS.items() if k != "vi"}}


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------


def _token() -> str:
    """A token shaped like BotFather's: digits, a colon, 35 characters of A-Za-z0-9_-."""
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)[:35]}"


def etc_zone(now: datetime, local_hour: int) -> str:
    """An Etc/GMT±N zone (UTC-12 … UTC+14) where the local time now is between `local_hour`:00 and :59.

    Etc/ zones have their sign inverted: Etc/GMT-3 is UTC+3."""
    for offset in range(-12, 15):
        if (now + timedelta(hours=offset)).hour == local_hour:
            name = "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"
            assert now.astimezone(ZoneInfo(name)).hour == local_hour, name
            return name
    raise AssertionError(f"no Etc/GMT zone at {local_hour}:00 for {now}")  # pragma: no cover: 27 offsets


def rendered(document: dict[str, Any], locale: str, channel: Channel, address: str) -> str:
    """The text the code queues for a resident: composed in their language, rendered for the channel
    (smart-encoded on SMS)."""
    reply = Reply(compose(parse_broadcast(document), locale), (), text_direction(locale))
    return render(reply, Address(channel, address)).text


def write(folder: Path, document: dict[str, Any]) -> Path:
    path = folder / f"{document['name']}.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def loopline(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` on the server's database, as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=database.parent,
        env=clean_os_env(**base_env(database)),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr == "", (result.args, result.stderr)
    return result.stdout


def queued_id(output: str, count: int) -> int:
    """The broadcast id from `broadcast send`'s "broadcast N: C messages queued for …"."""
    found = re.fullmatch(r"broadcast (\d+): (\d+) messages queued for (\S+)\n", output)
    assert found, output
    assert int(found.group(2)) == count, output
    return int(found.group(1))


class Sms:
    """The SMS residents' side: webhooks signed as Twilio signs them, TwiML answers."""

    def __init__(self, server: LooplineServer, public_url: str) -> None:
        self.server = server
        self.public_url = public_url

    def say(self, number: str, body: str) -> list[str]:
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
            "From": number,
            "FromCountry": "US",
            "ApiVersion": "2010-04-01",
        }
        signature = sign_twilio(TEST_AUTH_TOKEN, f"{self.public_url}{SMS_PATH}", form)
        with httpx.Client(timeout=10.0, trust_env=False) as client:
            response = client.post(
                f"{self.server.base_url}{SMS_PATH}", data=form, headers={"X-Twilio-Signature": signature}
            )
        assert response.status_code == 200, response.text
        root = ET.fromstring(response.content)
        assert root.tag == "Response" and all(child.tag == "Message" for child in root), response.text
        return ["".join(message.itertext()) for message in root]

    def join(self, number: str, locale: str) -> None:
        """Onboarding by numbers: greeting, language, consent (1 = yes), a ZIP code."""
        assert self.say(number, "hi") == [language_menu()]
        question = consent_question(locale)
        if text_direction(locale) == "rtl":  # each numbered choice starts with a right-to-left mark
            question = re.sub(r"\n(?=\d )", "\n\u200f", question)
        assert self.say(number, MENU_POSITION[locale]) == [question]
        assert self.say(number, "1") == [expected(locale, WELCOME), expected(locale, AREA_PROMPT)]
        assert self.say(number, "94110") == [expected(locale, FINISH), about_me_offer(locale)]


def tg_messages(emu: TelegramEmulator, token: str, chat: int, count: int, settle: float = 0.15) -> list[str]:
    """Exactly `count` bot messages to the chat (waiting up to 15 s, then `settle` s for extras): their texts."""
    got = emu.wait_for_updates(token, chat, count, timeout=15.0) if count else []
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        got.extend(emu.updates(token, chat))
        time.sleep(0.05)
    texts = [str(u["message"].get("text")) for u in got]
    assert len(got) == count, f"chat {chat}: expected {count} bot message(s), got {texts!r}"
    return texts


class TgResident:
    """A Telegram resident: types and taps through the emulator, and keeps what the bot said.

    Every action waits for the bot's next message before returning. That is what keeps update ids
    apart: the emulator numbers an update when it is created but counts on only once its webhook
    delivery has returned, so two residents' updates in flight at once share an update_id, and the
    server (rightly) drops the second as a duplicate."""

    def __init__(self, emu: TelegramEmulator, token: str, chat: int, locale: str) -> None:
        self.emu, self.token, self.chat, self.locale = emu, token, chat, locale
        self.got: list[dict[str, Any]] = []

    def wait(self, total: int) -> None:
        """Until the bot has said `total` messages to this resident."""
        if len(self.got) < total:
            self.got.extend(self.emu.wait_for_updates(self.token, self.chat, total - len(self.got), timeout=15.0))

    def type(self, words: str) -> None:
        self.emu.send_message(self.token, self.chat, words, language_code=self.locale)
        self.wait(len(self.got) + 1)

    def tap(self, value: str) -> None:
        """Press the button with this value under the bot's latest message."""
        message = self.got[-1]
        markup = message["message"].get("reply_markup") or {}
        data = [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]
        chosen = [d for d in data if d.rpartition("|")[2] == value]
        assert chosen, f"no button {value!r} under {message['message'].get('text')!r}: {data}"
        self.emu.send_callback(self.token, self.chat, chosen[0], message["messageId"], language_code=self.locale)
        self.wait(len(self.got) + 1)

    def texts(self) -> list[str]:
        return [str(u["message"].get("text")) for u in self.got]


def tg_join(emu: TelegramEmulator, token: str, residents: dict[int, str]) -> None:
    """Onboarding with buttons (greeting, language, consent, a ZIP code), each step for every resident
    in turn: the bot paces messages to one chat at one a second, not across chats."""
    people = [TgResident(emu, token, chat, locale) for chat, locale in residents.items()]
    for person in people:
        person.type("hola" if person.locale == "es" else "xin chào")
    for person in people:
        person.tap(person.locale)
    for person in people:
        person.tap("yes")
    for person in people:
        person.wait(4)  # the welcome and the area question
        person.type("94110")
        person.wait(6)  # all set, and the offer of the questions about oneself
    for person in people:
        assert person.texts() == [
            expected(person.locale, key)
            for key in (MENU_PROMPT, CONSENT_PROMPT, WELCOME, AREA_PROMPT, FINISH, ABOUT_ME_OFFER)
        ]
        assert tg_messages(emu, token, person.chat, 0) == []


def resident_id(db: Engine, channel: str, address: str) -> int:
    found = scalar(db, "SELECT resident_id FROM addresses WHERE channel = :c AND value = :a", c=channel, a=address)
    assert found is not None, (channel, address)
    return int(found)


def sms_posts(prism: TwilioMock) -> list[PrismRequest]:
    return [r for r in prism.requests("/Messages.json", "POST") if r.complete]


def outbox(db: Engine, broadcast_id: int) -> dict[str, OutboxItem]:
    """address -> the broadcast's outbox row (read through the model: timestamps come back aware)."""
    with Session(db, expire_on_commit=False) as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.purpose == f"broadcast:{broadcast_id}")).all()
    return {row.address: row for row in rows}


def settled(db: Engine, broadcast_id: int) -> bool:
    """Every row of the broadcast was looked at by the worker: finished, or held with a reason."""
    rows = outbox(db, broadcast_id).values()
    return bool(rows) and all(r.status in ("sent", "cancelled", "skipped", "failed") or r.last_error for r in rows)


# ------------------------------------------------------------------------------------------
# The test
# ------------------------------------------------------------------------------------------


def test_broadcast_reaches_each_resident_in_their_language_within_the_rules(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    day_zone, night_zone = etc_zone(now, 13), etc_zone(now, 2)
    database = tmp_path / "broadcast.db"
    token, secret = _token(), secrets.token_urlsafe(24)
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    with telegram_emulator(log_dir=tmp_path) as emu, peers.twilio_mock(dynamic=True, log_dir=tmp_path) as prism:
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
            LOOPLINE_TIMEZONE=day_zone,  # residents without a zone: early afternoon, not quiet
            LOOPLINE_TWILIO_SEGMENTS_PER_SECOND="10",  # the pace is tests/test_ratelimit.py's; here, what is sent
        )
        with loopline_server(env, port=port, log_dir=tmp_path) as server:
            log = server.log_text()
            assert f"telegram (webhook {public_url}/webhooks/telegram)" in log, log
            db = sqlite_engine(database)
            try:
                run(server, public_url, emu, prism, token, database, db, tmp_path, night_zone)
            finally:
                db.dispose()
            assert emu.webhook_failures() == []


def run(
    server: LooplineServer,
    public_url: str,
    emu: TelegramEmulator,
    prism: TwilioMock,
    token: str,
    database: Path,
    db: Engine,
    folder: Path,
    night_zone: str,
) -> None:
    sms = Sms(server, public_url)

    # --- Residents join through the server ------------------------------------------------
    for number, locale in SMS_RESIDENTS.items():
        sms.join(number, locale)
    tg_join(emu, token, TG_RESIDENTS)
    assert sms.say(SMS_STOP_BEFORE, "STOP") == [expected("en", STOPPED)]
    joined = query(
        db,
        "SELECT a.channel, a.value, r.locale, r.consent FROM residents r JOIN addresses a ON a.resident_id = r.id",
    )
    assert {(r["channel"], r["value"]): (r["locale"], r["consent"]) for r in joined} == {
        **{("sms", n): (loc, "revoked" if n == SMS_STOP_BEFORE else "granted") for n, loc in SMS_RESIDENTS.items()},
        **{("telegram", str(c)): (loc, "granted") for c, loc in TG_RESIDENTS.items()},
    }
    assert sms_posts(prism) == []  # onboarding answers are inline TwiML

    # It is night where one SMS resident lives; one Telegram resident already had three broadcasts.
    with db.begin() as connection:
        connection.execute(
            text("UPDATE residents SET timezone = :z WHERE id = :i"),
            {"z": night_zone, "i": resident_id(db, "sms", SMS_NIGHT)},
        )
    capped = resident_id(db, "telegram", str(TG_CAPPED))
    day_ago = datetime.now(UTC) - timedelta(days=1)
    with Session(db) as session, session.begin():
        for n in (9001, 9002, 9003):
            session.add(
                OutboxItem(
                    idempotency_key=f"broadcast:{n}:{capped}", purpose=f"broadcast:{n}", resident_id=capped,
                    channel="telegram", address=str(TG_CAPPED), text="earlier news", choices={}, status="sent",
                    urgent=False, attempts=1, not_before=day_ago, created_at=day_ago, finished_at=day_ago,
                )
            )  # fmt: skip

    # --- Preview ------------------------------------------------------------------------------
    flu = write(folder, FLU)
    shown = ok(loopline(database, "broadcast", "preview", str(flu)))
    # Eight residents who joined and did not say STOP (the STOP-while-queued one has not said it yet).
    assert shown.startswith("flu-shots: 8 recipients (everyone who joined)\n"), shown
    assert "  en: sms 2; SMS GSM-7, 1 segment(s) each, cost $0.02\n" in shown, shown
    assert "  es: sms 2, telegram 1; SMS UCS-2, 1 segment(s) each, cost $0.02\n    warning: á ó force UCS-2" in shown
    assert "  ar: sms 1; SMS UCS-2, 1 segment(s) each, cost $0.0083\n" in shown, shown
    assert "  vi: telegram 2; SMS UCS-2, 1 segment(s) each, cost $0.00\n" in shown, shown
    assert "missing text" not in shown and "zh" not in shown, shown
    assert "  estimated SMS cost: $0.04\n" in shown, shown

    # --- Send, a few seconds ahead; one resident says STOP while it is queued -----------------
    send_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    first = queued_id(ok(loopline(database, "broadcast", "send", str(flu), "--at", send_at.isoformat())), 8)
    assert set(outbox(db, first)) == {n for n in SMS_RESIDENTS if n != SMS_STOP_BEFORE} | {str(c) for c in TG_RESIDENTS}
    assert sms.say(SMS_STOP_QUEUED, "STOP") == [expected("es", STOPPED)]
    assert datetime.now(UTC) < send_at, "too slow: the STOP came after the broadcast was due"
    stopped = outbox(db, first)[SMS_STOP_QUEUED]
    assert (stopped.status, stopped.last_error) == ("cancelled", "resident opted out")
    assert sms_posts(prism) == []  # not due yet

    # --- What went out -----------------------------------------------------------------------
    eligible_sms = {SMS_EN: "en", SMS_ES: "es", SMS_AR: "ar"}
    prism.wait_for_requests(len(eligible_sms), timeout=30.0)
    assert {tg: tg_messages(emu, token, tg, 1) for tg in (TG_ES, TG_VI)} == {
        tg: [rendered(FLU, TG_RESIDENTS[tg], Channel.TELEGRAM, str(tg))] for tg in (TG_ES, TG_VI)
    }
    # Settled: every due row was looked at (sent, or held with a new time), and one more sweep sends nothing.
    wait_until(lambda: settled(db, first), timeout=15.0)
    time.sleep(2.5)  # the worker sweeps every 2 s when idle
    posts = sms_posts(prism)
    assert len(posts) == len(eligible_sms), [p.params for p in posts]
    check_sms(posts, public_url, {n: rendered(FLU, loc, Channel.SMS, n) for n, loc in eligible_sms.items()})
    assert tg_messages(emu, token, TG_CAPPED, 0) == []
    # The smart encoding, spelled out for English: GSM-7 look-alikes for the dash and the curly quotes.
    english = next(p.params["Body"] for p in posts if p.params["To"] == SMS_EN)
    assert english == 'Free flu shots on Saturday - bring your "vaccine card". It\'s free!'
    assert next(p.params["Body"] for p in posts if p.params["To"] == SMS_AR) == FLU_TEXTS["ar"]

    rows = outbox(db, first)
    assert {a: (r.status, r.last_error) for a, r in rows.items()} == {
        SMS_EN: ("sent", None),
        SMS_ES: ("sent", None),
        SMS_AR: ("sent", None),
        SMS_NIGHT: ("pending", "held: quiet hours"),
        SMS_STOP_QUEUED: ("cancelled", "resident opted out"),
        str(TG_ES): ("sent", None),
        str(TG_VI): ("sent", None),
        str(TG_CAPPED): ("pending", "held: frequency cap"),
    }
    assert all(r.finished_at is not None and r.finished_at >= send_at for r in rows.values() if r.status == "sent")
    # Held until 08:00 where the resident lives; until the oldest of the three earlier broadcasts is a week old.
    morning = rows[SMS_NIGHT].not_before.astimezone(ZoneInfo(night_zone))
    assert (morning.hour, morning.minute) == (8, 0) and morning > datetime.now(UTC)
    week = rows[str(TG_CAPPED)].not_before - day_ago
    assert abs(week - timedelta(days=7)) < timedelta(seconds=1), week

    # Twilio reports one SMS delivered (a signed status callback for the sid Prism gave it).
    sid = scalar(db, "SELECT provider_id FROM messages WHERE id = :i", i=rows[SMS_EN].message_id)
    assert re.fullmatch(r"(SM|MM)[0-9a-fA-F]{32}", sid or ""), sid
    callback = {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": TEST_ACCOUNT_SID}
    signature = sign_twilio(TEST_AUTH_TOKEN, f"{public_url}{STATUS_PATH}", callback)
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        answer = client.post(
            f"{server.base_url}{STATUS_PATH}", data=callback, headers={"X-Twilio-Signature": signature}
        )
    assert answer.status_code == 204, answer.text

    report = json.loads(ok(loopline(database, "broadcast", "status", str(first))))
    assert report.pop("broadcast")["urgent"] is False
    assert report == {
        "outbox": {"sent": 5, "pending": 2, "cancelled": 1},
        "reasons": {"held: quiet hours": 1, "held: frequency cap": 1, "resident opted out": 1},
        "delivery": {"sent": 4, "delivered": 1},
    }

    # --- An urgent broadcast bypasses quiet hours and the frequency cap -----------------------
    storm = write(folder, STORM)
    urgent_sms = {**eligible_sms, SMS_NIGHT: "en"}
    urgent = queued_id(ok(loopline(database, "broadcast", "send", str(storm))), len(urgent_sms) + len(TG_RESIDENTS))
    assert urgent != first
    prism.wait_for_requests(len(eligible_sms) + len(urgent_sms), timeout=30.0)
    assert {tg: tg_messages(emu, token, tg, 1) for tg in TG_RESIDENTS} == {
        tg: [rendered(STORM, loc, Channel.TELEGRAM, str(tg))] for tg, loc in TG_RESIDENTS.items()
    }
    wait_until(lambda: all(r.status == "sent" for r in outbox(db, urgent).values()), timeout=15.0)
    time.sleep(2.5)
    posts = sms_posts(prism)
    assert len(posts) == len(eligible_sms) + len(urgent_sms), [p.params for p in posts]
    check_sms(
        posts[len(eligible_sms) :],
        public_url,
        {n: rendered(STORM, loc, Channel.SMS, n) for n, loc in urgent_sms.items()},
    )
    urgent_report = json.loads(ok(loopline(database, "broadcast", "status", str(urgent))))
    assert urgent_report.pop("broadcast")["urgent"] is True
    assert scalar(db, "SELECT count(*) FROM audit_events WHERE action = 'broadcast.send.urgent'") == 1
    assert urgent_report == {
        "outbox": {"sent": 7},
        "reasons": {},
        "delivery": {"sent": 7},
    }
    # The first broadcast's held rows still wait.
    assert json.loads(ok(loopline(database, "broadcast", "status", str(first))))["outbox"] == {
        "sent": 5,
        "pending": 2,
        "cancelled": 1,
    }

    # --- A file without a recipient's language is refused, unless --fallback -------------------
    no_vi = write(folder, NO_VI)
    broadcasts_before = scalar(db, "SELECT count(*) FROM broadcasts")
    outbox_before = scalar(db, "SELECT count(*) FROM outbox")
    refused = loopline(database, "broadcast", "send", str(no_vi))
    assert refused.returncode == 1, (refused.stdout, refused.stderr)
    assert refused.stdout == ""
    assert f"no text for: vi (2); add them to {no_vi} or use --fallback" in refused.stderr, refused.stderr
    assert scalar(db, "SELECT count(*) FROM broadcasts") == broadcasts_before
    assert scalar(db, "SELECT count(*) FROM outbox") == outbox_before
    assert "  missing text: 2 recipients speak vi (add it, or --fallback)\n" in ok(
        loopline(database, "broadcast", "preview", str(no_vi))
    )

    later = (datetime.now(UTC) + timedelta(days=300)).isoformat()  # queued, never due during the test
    fallback = queued_id(
        ok(loopline(database, "broadcast", "send", str(no_vi), "--fallback", "en", "--at", later)),
        len(urgent_sms) + len(TG_RESIDENTS),
    )
    rows = outbox(db, fallback)
    english_tg = rendered(NO_VI, "en", Channel.TELEGRAM, str(TG_VI))
    assert rows[str(TG_VI)].text == rows[str(TG_CAPPED)].text == english_tg
    assert rows[str(TG_ES)].text == rendered(NO_VI, "es", Channel.TELEGRAM, str(TG_ES))
    assert rows[SMS_AR].text == rendered(NO_VI, "ar", Channel.SMS, SMS_AR)
    assert {r.status for r in rows.values()} == {"pending"}
    assert len(sms_posts(prism)) == len(eligible_sms) + len(urgent_sms)


def check_sms(posts: list[PrismRequest], public_url: str, bodies: dict[str, str]) -> None:
    """Exactly one POST …/Messages.json per number, from our number, with that resident's text."""
    assert sorted(p.params["To"] for p in posts) == sorted(bodies)
    for post in posts:
        assert post.status == 201, post
        assert post.path == f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"
        assert post.basic_auth_user == TEST_ACCOUNT_SID
        assert post.params == {
            "To": post.params["To"],
            "From": OUR_NUMBER,
            "Body": bodies[post.params["To"]],
            "StatusCallback": f"{public_url}{STATUS_PATH}",
        }
