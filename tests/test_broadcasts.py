"""Broadcasts: audiences, preview (segments, encoding, cost), queueing, and the checks made at send time."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.clock import FixedClock
from bot.delivery.worker import DeliveryWorker
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.broadcasts.audiences import AudienceError, parse_audience
from bot.messages import Channel, Outbound, SendResult, SendStatus
from bot.runtime import Runtime, send_rules
from bot.store.engagement import AuditEvent
from bot.store.models import OutboxItem, Resident
from tests.support.chat import Chat

NOTICE = broadcasts.parse_broadcast(
    {
        "name": "Flu clinic",
        "text": {
            "en": "Free flu shots Saturday at the Eastside Library, 10-2.",
            "es": "Vacunas gratis contra la gripe el sábado en la Biblioteca Eastside, de 10 a 2.",
            "ar": "لقاحات إنفلونزا مجانية يوم السبت في مكتبة الحي الشرقي.",
        },
        "invite": {"event": "health-fair"},
    }
)


def people(chat: Callable[..., Chat]) -> dict[str, Chat]:
    """Three residents who joined (en, es, ar) and one who stopped."""
    joined = {}
    for name, number, language, yes in (
        ("en", "+14155550100", "1", "yes"),
        ("es", "+14155550101", "2", "si"),
        ("ar", "+14155550102", "5", "نعم"),
        ("gone", "+14155550103", "1", "yes"),
    ):
        resident = chat(Channel.SMS, number)
        for text in ("hi", language, yes, "94110" if name == "es" else "skip"):
            resident.send(text)
        joined[name] = resident
    joined["gone"].send("STOP")
    return joined


SIDS = itertools.count(1)


class Recorder:
    """A provider stand-in that accepts everything and records it."""

    channel = Channel.SMS

    def __init__(self) -> None:
        self.sent: list[Outbound] = []

    async def send(self, outbound: Outbound) -> SendResult:
        self.sent.append(outbound)
        return SendResult(SendStatus.SENT, provider_id=f"SM{next(SIDS):032d}")


async def _advance(clock: FixedClock, seconds: float) -> None:
    """Waiting for the provider's pace, on the test's clock."""
    clock.at += timedelta(seconds=seconds)


def drain(runtime: Runtime, clock: FixedClock) -> Recorder:
    recorder = Recorder()
    worker = DeliveryWorker(runtime.db, {Channel.SMS: recorder}, clock, rules=send_rules(runtime.settings))
    worker.sleep = lambda seconds: _advance(clock, seconds)
    while asyncio.run(worker.run_once()):
        pass
    return recorder


def test_audience_expressions_are_checked() -> None:
    assert parse_audience("language=es,vi area=94110").terms == {"language": ("es", "vi"), "area": ("94110",)}
    assert parse_audience("").describe() == "everyone who joined"
    for bad in ("language=klingon", "colour=blue", "area", "area="):
        with pytest.raises(AudienceError):
            parse_audience(bad)


def test_preview_counts_languages_segments_and_cost(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    people(chat)
    with runtime.db.transaction() as session:
        found = broadcasts.preview(session, NOTICE, parse_audience(""), "en", 0.01)
    assert found.total == 3  # the one who stopped is not in any audience
    by = {entry.locale: entry for entry in found.languages}
    assert by["en"].encoding == "GSM-7" and by["en"].segments == 1
    assert by["es"].encoding == "UCS-2" and "á" in by["es"].forcing_ucs2
    assert by["ar"].encoding == "UCS-2"
    assert by["en"].text.endswith("Reply EVENTS to tell us if you will come.")
    assert found.cost == pytest.approx(0.01 * sum(e.segments for e in found.languages))
    with runtime.db.transaction() as session:
        spanish = broadcasts.preview(session, NOTICE, parse_audience("language=es area=94110"), "en", 0.01)
        nobody = broadcasts.preview(session, NOTICE, parse_audience("language=ar area=94110"), "en", 0.01)
    assert (spanish.total, nobody.total) == (1, 0)


def test_send_refuses_a_language_without_text_unless_a_fallback_is_given(
    runtime: Runtime, chat: Callable[..., Chat], tmp_path: Path
) -> None:
    people(chat)
    file = tmp_path / "notice.yaml"
    file.write_text(yaml.safe_dump({"name": "Only English", "text": {"en": "Hello"}}), encoding="utf-8")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    refused = CliRunner().invoke(main, ["broadcast", "send", str(file)], env=env)
    assert refused.exit_code == 1
    assert "no text for: ar (1), es (1)" in refused.output
    sent = CliRunner().invoke(main, ["broadcast", "send", str(file), "--fallback", "en"], env=env)
    assert sent.exit_code == 0, sent.output
    assert "3 messages queued" in sent.output
    with runtime.db.transaction() as session:
        (audit,) = session.scalars(select(AuditEvent)).all()
    assert (audit.action, audit.details["recipients"], audit.details["fallback"]) == ("broadcast.send", 3, "en")
    assert audit.actor.startswith("cli:")
    shown = CliRunner().invoke(main, ["broadcast", "preview", str(file), "--audience", "language=es"], env=env)
    assert "missing text: 1 recipients speak es" in shown.output
    missing = CliRunner().invoke(main, ["broadcast", "status", "999"], env=env)
    assert missing.exit_code == 2 and missing.output.strip().startswith("loopline: no broadcast 999")


def test_delivery_respects_stop_quiet_hours_and_the_cap(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    residents = people(chat)
    clock = FixedClock(at=datetime(2026, 3, 2, 18, 0, tzinfo=UTC))  # 18:00 UTC: daytime in UTC
    with runtime.db.transaction() as session:
        for resident in session.scalars(select(Resident)):
            resident.timezone = "Asia/Tokyo" if resident.locale == "ar" else None  # 03:00 in Tokyo: quiet
        row, count = broadcasts.enqueue(session, NOTICE, parse_audience(""), "en", clock.now(), clock.now())
    assert count == 3
    residents["es"].send("ALTO")  # a STOP that arrives while the broadcast is queued wins
    recorder = drain(runtime, clock)
    assert [o.address.value for o in recorder.sent] == ["+14155550100"]
    with runtime.db.transaction() as session:
        report = broadcasts.status(session, row.id)
        held = session.scalars(
            select(OutboxItem).where(OutboxItem.address == "+14155550102", OutboxItem.purpose == f"broadcast:{row.id}")
        ).one()
    assert report["outbox"] == {"sent": 1, "pending": 1, "cancelled": 1}
    assert report["reasons"]["held: quiet hours"] == 1
    assert held.not_before == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo
    clock.at = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    assert [o.address.value for o in drain(runtime, clock).sent] == ["+14155550102"]


def test_the_frequency_cap_holds_the_fourth_message_and_urgent_goes_through(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    people(chat)
    clock = FixedClock(at=datetime(2026, 3, 2, 18, 0, tzinfo=UTC))
    english = parse_audience("language=en")
    for day in range(4):
        clock.at = datetime(2026, 3, 2 + day, 18, 0, tzinfo=UTC)
        with runtime.db.transaction() as session:
            broadcasts.enqueue(session, NOTICE, english, "en", clock.now(), clock.now())
        drain(runtime, clock)
    with runtime.db.transaction() as session:
        rows = session.scalars(
            select(OutboxItem).where(OutboxItem.purpose.startswith("broadcast:")).order_by(OutboxItem.id)
        ).all()
    assert [r.status for r in rows] == ["sent", "sent", "sent", "pending"]
    assert rows[-1].last_error == "held: frequency cap"
    assert rows[-1].not_before == datetime(2026, 3, 9, 18, 0, tzinfo=UTC)
    urgent = broadcasts.BroadcastFile("Boil water notice", {"en": "Boil tap water before drinking."}, {}, True)
    with runtime.db.transaction() as session:
        broadcasts.enqueue(session, urgent, english, "en", clock.now(), clock.now())
    clock.at = datetime(2026, 3, 6, 3, 0, tzinfo=UTC)  # quiet hours in UTC, and over the cap
    assert [o.text for o in drain(runtime, clock).sent] == ["Boil tap water before drinking."]


def test_audience_filters_by_answers_and_rsvps(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from tests.test_events import add_events
    from tests.test_polls import ALL_KINDS, load

    load(runtime, ALL_KINDS)
    add_events(runtime)
    residents = people(chat)
    residents["en"].send("KINDS")
    residents["en"].send("mango")
    residents["es"].send("EVENTOS")
    residents["es"].send("1")
    residents["es"].send("si")
    with runtime.db.transaction() as session:

        def who(expression: str) -> set[str]:
            found = broadcasts.preview(session, NOTICE, parse_audience(expression), "en", 0.0)
            return {e.locale for e in found.languages}

        assert who("answered=all-kinds") == {"en"}
        assert who("answered=all-kinds:fruit=mango") == {"en"}
        assert who("answered=all-kinds:fruit=pear") == set()
        assert who("not-answered=all-kinds") == {"es", "ar"}
        assert who("rsvp=health-fair:yes") == {"es"}
        assert who("rsvp=health-fair:no") == set()
        assert who("channel=telegram") == set()
        with pytest.raises(AudienceError):
            who("answered=no-such-poll")
        # A question or an answer that does not exist is an error naming those that do, never an empty audience.
        with pytest.raises(AudienceError, match="has no question 'q1'; its questions: fruit, days, order, stars"):
            who("answered=all-kinds:q1=mango")
        with pytest.raises(AudienceError, match="has no answer 'kiwi'; its answers: apple, mango, pear"):
            who("answered=all-kinds:fruit=kiwi")


def test_areas_with_spaces_and_accents_are_named_as_residents_wrote_them(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    for number, area in (("+14155550110", "La Misión"), ("+14155550111", "la mision"), ("+14155550112", "94110")):
        resident = chat(Channel.SMS, number)
        for text in ("hi", "1", "yes", area):
            resident.send(text)
    assert parse_audience('area="La Misión" language=en').terms == {"area": ("La Misión",), "language": ("en",)}
    assert parse_audience('area="La Misión"').describe() == 'area="La Misión"'
    with pytest.raises(AudienceError, match="quote is not closed"):
        parse_audience('area="La Misión')
    with runtime.db.transaction() as session:

        def count(expression: str) -> int:
            return broadcasts.preview(session, NOTICE, parse_audience(expression), "en", 0.0).total

        assert count('area="La Misión"') == 2  # whatever the case and accents
        assert count('area="LA MISION",94110') == 3
        with pytest.raises(AudienceError, match="no resident gave the area '10001'; areas given: "):
            count("area=10001")
        with pytest.raises(AudienceError, match="areas given: "):
            count("area=Mision")  # a different place, however close


def test_tags_set_by_a_flow_or_staff_select_residents(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    people(chat)
    with runtime.db.transaction() as session:
        for resident in session.scalars(select(Resident)):
            if resident.locale == "es":
                resident.fields = {"volunteer": "yes", "clinic": "no"}
            if resident.locale == "ar":
                resident.fields = {"volunteer": True}

        def who(expression: str) -> set[str]:
            found = broadcasts.preview(session, NOTICE, parse_audience(expression), "en", 0.0)
            return {e.locale for e in found.languages}

        assert who("tag=volunteer") == {"es", "ar"}
        assert who("tag=clinic") == set()
        assert who("tag=volunteer language=ar") == {"ar"}


def test_reminder_lead_times_are_configurable() -> None:
    from bot.settings import SettingsError, load_settings, parse_leads

    assert parse_leads("2h, 24h ,90m") == (timedelta(hours=24), timedelta(hours=2), timedelta(minutes=90))
    with pytest.raises(SettingsError, match="LOOPLINE_EVENT_REMINDERS"):
        load_settings({"LOOPLINE_EVENT_REMINDERS": "tomorrow"})


def test_the_audience_helper_quotes_an_area_with_spaces() -> None:
    from bot.engagement.broadcasts.editor import BroadcastDraft, add_helper_terms

    draft = BroadcastDraft(audience="language=es")
    add_helper_terms(draft, {"help_area": "La Misión", "help_language": "vi"})
    assert draft.audience == 'language=es,vi area="La Misión"'
    assert parse_audience(draft.audience).terms["area"] == ("La Misión",)


def test_a_broadcast_file_inviting_to_a_poll_or_event_that_does_not_exist_is_refused(
    runtime: Runtime, chat: Callable[..., Chat], tmp_path: Path
) -> None:
    people(chat)
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    for invite, problem in (({"poll": "nope"}, "there is no poll 'nope'"), ({"event": "gone"}, "no event 'gone'")):
        file = tmp_path / "invite.yaml"
        document = {"name": "Invite", "text": {"en": "Hi", "es": "Hola", "ar": "مرحبا"}, "invite": invite}
        file.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        for command in ("preview", "send"):
            refused = CliRunner().invoke(main, ["broadcast", command, str(file)], env=env)
            assert refused.exit_code == 1 and problem in refused.output, refused.output
    with runtime.db.transaction() as session:
        assert session.scalars(select(OutboxItem).where(OutboxItem.purpose.like("broadcast:%"))).first() is None


def test_the_preview_says_when_quiet_hours_hold_a_send(tmp_path: Path) -> None:
    from bot.settings import load_settings
    from bot.web.dashboard.broadcasts import reach

    url = f"sqlite:///{tmp_path / 'quiet.db'}"
    runtime = Runtime(load_settings({"LOOPLINE_DATABASE_URL": url, "LOOPLINE_TIMEZONE": "America/New_York"}))
    zones: Counter[str | None] = Counter({"America/Los_Angeles": 2, None: 3})
    found = broadcasts.Preview("everyone who joined", 5, [], {}, 0.0, zones)
    # 22:30 in New York is quiet there (21:00-08:00) but 19:30 in Los Angeles is not.
    evening = datetime(2026, 3, 3, 3, 30, tzinfo=UTC)
    said = reach(found, evening, False, runtime)
    assert said.startswith("It goes out 2026-03-02 22:30 EST.")
    assert "for 3 of the 5 recipients" in said and "the last at 2026-03-03 08:00 EST" in said
    assert reach(found, evening, True, runtime) == "It goes out 2026-03-02 22:30 EST."  # urgent: not held
    noon = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
    assert "not quiet hours for any recipient" in reach(found, noon, False, runtime)
