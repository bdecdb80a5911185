"""Send-time rules for non-urgent messages: quiet hours in the resident's time zone and a frequency cap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class SendRules:
    """Quiet hours (local start and end; messages wait until the end) and at most cap messages per window."""

    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    cap: int = 3
    cap_window: timedelta = timedelta(days=7)
    timezone: str = "UTC"
    sms_segments_per_second: float = 1.0  # a US long code; toll-free 3, short code 100
    sms_sender: str = "default"
    whatsapp_per_second: float = 80.0  # a WhatsApp sender's messages per second (Twilio's default throughput)
    whatsapp_sender: str = "default"
    default_locale: str = "en"  # the language of a resident who never chose one (their WhatsApp template's)
    telegram_per_second: float = 30.0
    telegram_per_chat_per_second: float = 1.0
    # How long a worker holds the rows it claimed: long enough for a batch at one SMS segment a second;
    # a crashed worker's rows are taken up by another worker after it.
    claim_seconds: float = 120.0


def quiet_until(now: datetime, timezone: str | None, rules: SendRules) -> datetime | None:
    """When quiet hours end for a resident if it is quiet where they are now; None if it is not quiet."""
    zone = ZoneInfo(timezone or rules.timezone)
    local = now.astimezone(zone)
    start, end = rules.quiet_start, rules.quiet_end
    moment = local.time()
    overnight = start > end
    quiet = (moment >= start or moment < end) if overnight else (start <= moment < end)
    if not quiet:
        return None
    day = local.date() if (not overnight or moment < end) else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=zone)
