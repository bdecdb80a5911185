"""Dates and numbers in the resident's language and time zone, kept SMS-friendly (GSM-7 spaces) on request."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, format_skeleton, format_time, get_timezone_location
from babel.lists import format_list
from babel.numbers import format_currency, format_decimal, get_currency_precision

# Our locale codes that Babel needs spelled differently (the rest parse as they are).
_BABEL_CODES = {"zh_Hans": "zh_Hans_CN"}


def babel_locale(locale: str) -> Locale:
    """The Babel locale of one of our locale codes (zh_Hans -> zh_Hans_CN)."""
    return Locale.parse(_BABEL_CODES.get(locale, locale))


def _gsm_spaces(text: str) -> str:
    """Replace every space character but U+0020 (no-break, narrow no-break, thin...) with a plain space."""
    return "".join(" " if ch != " " and unicodedata.category(ch) == "Zs" else ch for ch in text)


def format_datetime_for(value: datetime, locale: str, timezone: str, *, sms: bool) -> str:
    """An aware datetime as the resident reads it: in their zone, Babel's medium format, plain spaces for SMS."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("format_datetime_for needs an aware datetime")
    zone = ZoneInfo(timezone)
    text = format_datetime(value.astimezone(zone), format="medium", tzinfo=zone, locale=babel_locale(locale))
    return _gsm_spaces(text) if sms else text


def format_money(amount: float, currency: str, locale: str = "en") -> str:
    """An amount as staff read it: "$0.14"; below a cent, to the tenth of a cent that per-segment prices use
    ("$0.0083"); never "0.0000"."""
    fine = 0 < abs(amount) < 0.01
    pattern = "¤#,##0.00##" if fine else "¤#,##0.00"
    return format_currency(amount, currency, format=pattern, locale=babel_locale(locale), currency_digits=False)


def format_amount_for(amount_minor: int, currency: str, locale: str, *, sms: bool = False) -> str:
    """An amount held in the currency's smallest unit (cents), as a resident reads it in their language: "$25.00",
    "25,00 US$" (plain spaces where sms is true)."""
    units = Decimal(amount_minor).scaleb(-get_currency_precision(currency))
    text = format_currency(units, currency, locale=babel_locale(locale))
    return _gsm_spaces(text) if sms else text


def format_or_list(items: list[str], locale: str) -> str:
    """Alternatives joined as the language joins them ("SMS, WhatsApp, or Telegram"; "短信、WhatsApp或Telegram")."""
    return str(format_list(items, style="or", locale=babel_locale(locale)))


def format_number_for(n: float, locale: str, *, sms: bool = False) -> str:
    """A number with the locale's separators (French groups with U+202F: plain space when sms is true)."""
    text = format_decimal(n, locale=babel_locale(locale))
    return _gsm_spaces(text) if sms else text


def format_event_time(
    start: datetime, end: datetime, locale: str, *, event_zone: str, reader_zone: str | None, sms: bool
) -> str:
    """The one way an event's time is written for someone: "Sat, Dec 12, 10:00 AM - 12:00 PM" in the event's own
    zone, or, where the reader's zone is known and its clock differs there, in the reader's zone with its city named
    ("… 1:00 PM - 3:00 PM (New York)"). Never UTC by accident: an event always has its zone."""
    zone = ZoneInfo(event_zone)
    named = ""
    if reader_zone and reader_zone != event_zone:
        theirs = ZoneInfo(reader_zone)
        if start.astimezone(theirs).utcoffset() != start.astimezone(zone).utcoffset():
            zone = theirs
            named = get_timezone_location(start.astimezone(zone), locale=babel_locale(locale), return_city=True)
    start, end = start.astimezone(zone), end.astimezone(zone)
    where = babel_locale(locale)
    day = format_skeleton("MMMEd", start, tzinfo=zone, locale=where)
    text = f"{day}, {format_time(start, 'short', tzinfo=zone, locale=where)}"
    if end.date() == start.date():
        text += f" - {format_time(end, 'short', tzinfo=zone, locale=where)}"
    if named:
        text += f" ({named})"
    return _gsm_spaces(text) if sms else text
