"""One rule writes an event's time for a resident (bot.i18n.formatting.format_event_time): the event's own zone, or
the resident's where known and different, with its city named; never UTC by accident."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.i18n.formatting import format_event_time

# A Saturday 10:00-12:00 in San Francisco (18:00-20:00 UTC).
START, END = datetime(2026, 12, 12, 18, 0, tzinfo=UTC), datetime(2026, 12, 12, 20, 0, tzinfo=UTC)
LA = "America/Los_Angeles"


def when(locale: str, reader: str | None, *, sms: bool = True) -> str:
    return format_event_time(START, END, locale, event_zone=LA, reader_zone=reader, sms=sms)


def test_in_the_events_own_zone_when_the_residents_is_unknown_or_the_same() -> None:
    assert when("en", None) == "Sat, Dec 12, 10:00 AM - 12:00 PM"
    assert when("en", LA) == when("en", "America/Vancouver") == when("en", None)  # same clock: no zone named
    assert when("es", None) == "sáb, 12 dic, 10:00 - 12:00"


def test_in_the_residents_zone_named_by_its_city_when_their_clock_differs() -> None:
    assert when("en", "America/New_York") == "Sat, Dec 12, 1:00 PM - 3:00 PM (New York)"
    assert when("es", "America/New_York").endswith("13:00 - 15:00 (Nueva York)")
    assert when("vi", "Asia/Ho_Chi_Minh") == "CN, 13 thg 12, 01:00 - 03:00 (TP Hồ Chí Minh)"  # the next day there


@pytest.mark.parametrize("locale", ["en", "es", "fr", "vi", "ar", "zh_Hans"])
def test_never_utc_by_accident(locale: str) -> None:
    assert when(locale, None) != format_event_time(START, END, locale, event_zone="UTC", reader_zone=None, sms=True)
