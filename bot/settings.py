"""Typed settings read from LOOPLINE_* environment variables and passed explicitly (no global singleton)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from babel.numbers import list_currencies

from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.ids import plain_number

_SID = re.compile(r"^(AC|MG)[0-9a-fA-F]{32}$")
_TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{10,}$")
_TELEGRAM_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# The database URLs Loopline runs on: embedded SQLite, or PostgreSQL through psycopg 3 (the driver it installs).
DATABASE_URL = re.compile(r"^(sqlite(\+pysqlite)?|postgres(ql)?|postgresql\+psycopg)://")
LONGEST_LEAD = timedelta(days=60)  # a reminder further ahead than this is a typo, not a reminder


T = TypeVar("T")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    """Credentials and senders of the Twilio channels: SMS (a number or a messaging service) and WhatsApp."""

    account_sid: str
    auth_token: str
    from_number: str | None
    messaging_service_sid: str | None
    api_base: str | None
    whatsapp_from: str | None = None

    @property
    def sms(self) -> bool:
        """Whether SMS can be sent: a number or a messaging service is set."""
        return bool(self.from_number or self.messaging_service_sid)


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    """Credentials and mode of the Telegram channel."""

    token: str
    secret: str | None
    api_base: str | None
    mode: str


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """Where the files residents send are kept (a local folder, or an S3-compatible bucket) and the largest kept."""

    directory: str = "./media"
    max_bytes: int = 10 * 1024 * 1024
    s3_bucket: str | None = None
    s3_endpoint: str | None = None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process needs to know, read once at start."""

    database_url: str = "sqlite:///./loopline.db"
    public_url: str | None = None
    twilio: TwilioSettings | None = None
    telegram: TelegramSettings | None = None
    program_name: str = "Loopline"
    help_contact: str | None = None
    program_about: tuple[tuple[str, str], ...] = ()
    default_locale: str = "en"
    timezone: str = "UTC"
    simulator: bool = True
    messages_per_month: int = 4
    quiet_hours: tuple[time, time] = (time(21, 0), time(8, 0))
    frequency_cap: tuple[int, timedelta] = (3, timedelta(days=7))
    sms_price_per_segment: float = 0.0083
    sms_currency: str = "USD"
    sms_segments_per_second: float = 1.0
    whatsapp_per_second: float = 80.0
    claim_seconds: float = 120.0
    event_reminders: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=2))
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()
    response_days: int = 60
    proposal_threshold: int = 25
    check_back_days: int = 30
    media: MediaSettings = MediaSettings()

    @property
    def live_channels(self) -> list[str]:
        """Names of the channels that can carry messages in this process."""
        live = []
        if self.twilio and self.twilio.sms:
            live.append("sms")
        if self.twilio and self.twilio.whatsapp_from:
            live.append("whatsapp")
        if self.telegram:
            live.append("telegram")
        if self.simulator:
            live.append("simulator")
        return live

    @property
    def sms_sender(self) -> str:
        """The Twilio sender whose pace the workers share (a messaging service, a number, or "default")."""
        if self.twilio:
            return self.twilio.messaging_service_sid or self.twilio.from_number or "default"
        return "default"

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is the embedded SQLite database."""
        return self.database_url.startswith("sqlite")


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """ "21:00-08:00" -> (21:00, 08:00); ValueError when malformed."""
    start, sep, end = value.partition("-")
    if not sep:
        raise ValueError("quiet hours look like 21:00-08:00")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def parse_cap(value: str) -> tuple[int, timedelta]:
    """ "3/7d" -> (3, 7 days); "0/7d" turns the cap off; the window is 1 to 366 days."""
    count_text, sep, window = value.partition("/")
    count, days = plain_number(count_text, 999_999), plain_number(window.strip().removesuffix("d"), 10**6)
    if not sep or count is None or days is None:
        raise ValueError("the frequency cap looks like 3/7d (messages per days)")
    if not 1 <= days <= 366:
        raise ValueError("the frequency cap's window is 1 to 366 days (3/7d); 0/7d turns the cap off")
    return count, timedelta(days=days)


def parse_leads(value: str) -> tuple[timedelta, ...]:
    """ "24h,2h" (or "90m") -> lead times before an event, longest first; ValueError when malformed."""
    leads = []
    for raw in value.split(","):
        part = raw.strip().lower()
        unit = {"h": 3600, "m": 60}.get(part[-1:])
        amount = plain_number(part[:-1], 10**12)
        if unit is None or not amount:
            raise ValueError("reminder lead times look like 24h,2h")
        if len(part) > 8 or amount * unit > LONGEST_LEAD.total_seconds():
            raise ValueError(f"a reminder goes at most {LONGEST_LEAD.days} days before an event")
        leads.append(timedelta(seconds=amount * unit))
    return tuple(sorted(set(leads), reverse=True))


def _parsed(env: Mapping[str, str], name: str, default: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(env.get(name, "").strip() or default)
    except ValueError as exc:
        raise SettingsError(name, str(exc)) from exc


def _number(env: Mapping[str, str], name: str, default: str, bounds: tuple[float, float], example: str) -> float:
    """A decimal setting within bounds (inclusive); nan and infinities are not numbers here."""
    raw = env.get(name, "").strip() or default
    try:
        value = float(raw)
    except ValueError as exc:
        raise SettingsError(name, f"must be a number like {example}") from exc
    low, high = bounds
    if not math.isfinite(value) or not low <= value <= high:
        raise SettingsError(name, f"must be a number from {low:g} to {high:g}, like {example}")
    return value


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(name, f"must be an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _twilio(env: Mapping[str, str]) -> TwilioSettings | None:
    sid = env.get("LOOPLINE_TWILIO_ACCOUNT_SID", "").strip()
    token = env.get("LOOPLINE_TWILIO_AUTH_TOKEN", "").strip()
    if not sid and not token:
        return None
    if not sid:
        raise SettingsError("LOOPLINE_TWILIO_ACCOUNT_SID", "is required when LOOPLINE_TWILIO_AUTH_TOKEN is set")
    if not token:
        raise SettingsError("LOOPLINE_TWILIO_AUTH_TOKEN", "is required when LOOPLINE_TWILIO_ACCOUNT_SID is set")
    if not _SID.match(sid) or not sid.startswith("AC"):
        raise SettingsError("LOOPLINE_TWILIO_ACCOUNT_SID", "must be AC followed by 32 hexadecimal digits")
    sender = _e164(env, "LOOPLINE_TWILIO_FROM")
    service = env.get("LOOPLINE_TWILIO_MESSAGING_SERVICE_SID", "").strip() or None
    whatsapp = _e164(env, "LOOPLINE_TWILIO_WHATSAPP_FROM", prefix="whatsapp:")
    if not sender and not service and not whatsapp:
        raise SettingsError(
            "LOOPLINE_TWILIO_FROM",
            "set it (or LOOPLINE_TWILIO_MESSAGING_SERVICE_SID) for SMS, or LOOPLINE_TWILIO_WHATSAPP_FROM for WhatsApp",
        )
    if service and not (_SID.match(service) and service.startswith("MG")):
        raise SettingsError("LOOPLINE_TWILIO_MESSAGING_SERVICE_SID", "must be MG followed by 32 hexadecimal digits")
    return TwilioSettings(sid, token, sender, service, _url(env, "LOOPLINE_TWILIO_API_BASE"), whatsapp)


def _e164(env: Mapping[str, str], name: str, prefix: str = "") -> str | None:
    """A sending number in E.164 (written with or without the given prefix, such as "whatsapp:"), or None."""
    value = env.get(name, "").strip()
    if prefix and value.lower().startswith(prefix):
        value = value[len(prefix) :].strip()
    if not value:
        return None
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise SettingsError(name, f"must be an E.164 number like {prefix}+15551234567") from exc
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def _telegram(env: Mapping[str, str], public_url: str | None) -> TelegramSettings | None:
    token = env.get("LOOPLINE_TELEGRAM_TOKEN", "").strip()
    if not token:
        return None
    if not _TELEGRAM_TOKEN.match(token):
        raise SettingsError("LOOPLINE_TELEGRAM_TOKEN", "must look like 123456:ABC-token from @BotFather")
    secret = env.get("LOOPLINE_TELEGRAM_SECRET", "").strip() or None
    if secret and not _TELEGRAM_SECRET.match(secret):
        raise SettingsError("LOOPLINE_TELEGRAM_SECRET", "must be 1-256 characters of A-Z a-z 0-9 _ -")
    mode = env.get("LOOPLINE_TELEGRAM_MODE", "").strip().lower() or ("webhook" if public_url else "polling")
    if mode not in ("webhook", "polling"):
        raise SettingsError("LOOPLINE_TELEGRAM_MODE", "must be webhook or polling")
    if mode == "webhook" and not secret:
        raise SettingsError("LOOPLINE_TELEGRAM_SECRET", "is required in webhook mode")
    return TelegramSettings(token, secret, _url(env, "LOOPLINE_TELEGRAM_API_BASE"), mode)


def _claim(env: Mapping[str, str]) -> float:
    raw = env.get("LOOPLINE_CLAIM_SECONDS", "").strip() or "120"
    if not (plain_number(raw, 86400) or 0) >= 1:
        raise SettingsError("LOOPLINE_CLAIM_SECONDS", "must be a whole number of seconds from 1 to 86400")
    return float(raw)


def _per_month(env: Mapping[str, str]) -> int:
    return _whole(env, "LOOPLINE_MESSAGES_PER_MONTH", "4", 100)


def _whole(env: Mapping[str, str], name: str, default: str, most: int) -> int:
    """A whole-number setting from 1 to most."""
    count = plain_number(env.get(name, "").strip() or default, most)
    if not count:
        raise SettingsError(name, f"must be a whole number from 1 to {most:,}")
    return count


def _currency(env: Mapping[str, str]) -> str:
    """The currency of LOOPLINE_SMS_PRICE_PER_SEGMENT, an ISO 4217 code Babel knows (USD, EUR, CAD…)."""
    code = env.get("LOOPLINE_SMS_CURRENCY", "").strip().upper() or "USD"
    if code not in list_currencies():  # Babel's list of ISO 4217 codes
        raise SettingsError("LOOPLINE_SMS_CURRENCY", f"{code!r} is not a currency code; give one like USD, EUR or CAD")
    return code


ABOUT_MAX_CHARACTERS = 60  # one line: with the name, frequency and keywords, consent and HELP stay within 3 segments


def _program_about(env: Mapping[str, str], default_locale: str) -> tuple[tuple[str, str], ...]:
    """The program's one-line description per language: LOOPLINE_PROGRAM_ABOUT_<LOCALE>, and LOOPLINE_PROGRAM_ABOUT
    for the default language. A language without one hears the catalog's own words ("news, polls and events")."""
    about: dict[str, str] = {}
    for locale in SUPPORTED_LOCALES:
        name = f"LOOPLINE_PROGRAM_ABOUT_{locale.upper()}"
        text = env.get(name, "").strip() or (
            env.get("LOOPLINE_PROGRAM_ABOUT", "").strip() if locale == default_locale else ""
        )
        if not text:
            continue
        if "\n" in text or len(text) > ABOUT_MAX_CHARACTERS:
            shown = name if env.get(name, "").strip() else "LOOPLINE_PROGRAM_ABOUT"
            raise SettingsError(
                shown,
                f"must be one line of at most {ABOUT_MAX_CHARACTERS} characters, like 'health news, polls and events'",
            )
        about[locale] = text
    return tuple(about.items())


def _trusted_proxies(env: Mapping[str, str]) -> tuple[IPv4Network | IPv6Network, ...]:
    """The reverse proxies whose X-Forwarded-For is believed: addresses or networks, comma-separated."""
    networks = []
    for part in filter(None, (raw.strip() for raw in env.get("LOOPLINE_TRUSTED_PROXIES", "").split(","))):
        try:
            networks.append(ip_network(part))
        except ValueError as exc:
            problem = "has host bits set" if "host bits" in str(exc) else "is not an IP address or network"
            raise SettingsError(
                "LOOPLINE_TRUSTED_PROXIES",
                f"{part!r} {problem}; give a comma-separated list like 10.0.0.2,172.30.57.0/24",
            ) from exc
    return tuple(networks)


_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _media(env: Mapping[str, str]) -> MediaSettings:
    """Where residents' files are kept: the folder, or a bucket (with its endpoint; credentials the standard AWS way)
    and the largest file kept."""
    directory = env.get("LOOPLINE_MEDIA_DIR", "").strip() or "./media"
    if "\x00" in directory:
        raise SettingsError("LOOPLINE_MEDIA_DIR", "must be a folder's path")
    most = _number(env, "LOOPLINE_MEDIA_MAX_MB", "10", (0.01, 100), "10")
    bucket = env.get("LOOPLINE_MEDIA_S3_BUCKET", "").strip() or None
    if bucket is not None and not _S3_BUCKET.match(bucket):
        raise SettingsError("LOOPLINE_MEDIA_S3_BUCKET", "must be a bucket name (3-63 of a-z 0-9 . -)")
    endpoint = _url(env, "LOOPLINE_MEDIA_S3_ENDPOINT")
    if endpoint and not bucket:
        raise SettingsError("LOOPLINE_MEDIA_S3_ENDPOINT", "is set but LOOPLINE_MEDIA_S3_BUCKET is not")
    return MediaSettings(directory, int(most * 1024 * 1024), bucket, endpoint)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and check every LOOPLINE_* variable; raise SettingsError naming the first bad one."""
    database_url = env.get("LOOPLINE_DATABASE_URL", "").strip() or "sqlite:///./loopline.db"
    if not DATABASE_URL.match(database_url):
        raise SettingsError("LOOPLINE_DATABASE_URL", "must be a sqlite:/// or postgresql:// URL (driver psycopg)")
    if database_url.startswith("sqlite") and database_url.partition("://")[2] in ("", "/", "/:memory:"):
        # An in-memory database is lost when the process ends, and each process would have its own.
        raise SettingsError("LOOPLINE_DATABASE_URL", "needs a file for SQLite: sqlite:///./loopline.db")
    public_url = _url(env, "LOOPLINE_PUBLIC_URL")
    locale = env.get("LOOPLINE_DEFAULT_LOCALE", "").strip() or "en"
    if locale not in SUPPORTED_LOCALES:
        raise SettingsError("LOOPLINE_DEFAULT_LOCALE", f"must be one of {', '.join(SUPPORTED_LOCALES)}")
    timezone = env.get("LOOPLINE_TIMEZONE", "").strip() or "UTC"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError("LOOPLINE_TIMEZONE", f"unknown time zone {timezone!r}") from exc
    # The simulator has no sign-in: on by default only while no provider is configured.
    providers = any(env.get(name, "").strip() for name in ("LOOPLINE_TWILIO_ACCOUNT_SID", "LOOPLINE_TELEGRAM_TOKEN"))
    simulator = env.get("LOOPLINE_SIMULATOR", "").strip().lower() or ("off" if providers else "on")
    if simulator not in ("on", "off", "1", "0", "true", "false"):
        raise SettingsError("LOOPLINE_SIMULATOR", "must be on or off")
    return Settings(
        database_url=database_url,
        public_url=public_url,
        twilio=_twilio(env),
        telegram=_telegram(env, public_url),
        program_name=env.get("LOOPLINE_PROGRAM_NAME", "").strip() or "Loopline",
        help_contact=env.get("LOOPLINE_HELP_CONTACT", "").strip() or None,
        program_about=_program_about(env, locale),
        default_locale=locale,
        timezone=timezone,
        simulator=simulator in ("on", "1", "true"),
        messages_per_month=_per_month(env),
        quiet_hours=_parsed(env, "LOOPLINE_QUIET_HOURS", "21:00-08:00", parse_quiet_hours),
        frequency_cap=_parsed(env, "LOOPLINE_FREQUENCY_CAP", "3/7d", parse_cap),
        sms_price_per_segment=_number(env, "LOOPLINE_SMS_PRICE_PER_SEGMENT", "0.0083", (0, 10), "0.0083"),
        sms_currency=_currency(env),
        sms_segments_per_second=_number(env, "LOOPLINE_TWILIO_SEGMENTS_PER_SECOND", "1", (0.01, 1000), "1, 3 or 100"),
        whatsapp_per_second=_number(env, "LOOPLINE_WHATSAPP_MESSAGES_PER_SECOND", "80", (0.01, 1000), "80"),
        claim_seconds=_claim(env),
        event_reminders=_parsed(env, "LOOPLINE_EVENT_REMINDERS", "24h,2h", parse_leads),
        trusted_proxies=_trusted_proxies(env),
        response_days=_whole(env, "LOOPLINE_RESPONSE_DAYS", "60", 730),
        proposal_threshold=_whole(env, "LOOPLINE_PROPOSAL_THRESHOLD", "25", 1_000_000),
        check_back_days=_whole(env, "LOOPLINE_CHECK_BACK_DAYS", "30", 730),
        media=_media(env),
    )
