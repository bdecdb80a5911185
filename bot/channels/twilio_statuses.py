"""What Twilio's message statuses and error codes mean for Loopline: retry, give up, or act on the resident. Kept
apart from the adapter so that the delivery worker and the status callbacks need no Twilio library to read them."""

from __future__ import annotations

from bot.messages import SendResult, SendStatus

# Opted out means consent is gone: the SMS recipient replied STOP to Twilio (21610), or the WhatsApp user blocked
# the program's number (63014).
OPTED_OUT_CODES = frozenset({21610, 63014})
# The address can never get the channel's messages: not a mobile number, a landline, or no WhatsApp account
# (63003: the channel could not find the address; 63024: not a valid WhatsApp recipient).
UNREACHABLE_CODES = frozenset({21211, 21612, 21614, 30005, 30006, 21408, 63003, 63024})
# Worth trying again later: throttling (20429; WhatsApp's 63018), carrier or queue trouble.
TRANSIENT_CODES = frozenset({20429, 30003, 30008, 20003, 63018})


def classify_error(code: int | None, status: int, message: str) -> SendResult:
    """Turn a Twilio error into retry / permanent failure, marking opt-outs and unreachable numbers."""
    text = f"{code}: {message}"[:200] if code else message[:200]
    if code in OPTED_OUT_CODES:
        return SendResult(SendStatus.FAILED, error_code=str(code), error=text, opted_out=True)
    if code in UNREACHABLE_CODES:
        return SendResult(SendStatus.FAILED, error_code=str(code), error=text, unreachable=True)
    if code in TRANSIENT_CODES or status == 429 or status >= 500:
        retry = 1.0 if code == 20429 or status == 429 else None
        return SendResult(SendStatus.RETRY, error_code=str(code) if code else None, retry_after=retry, error=text)
    return SendResult(SendStatus.FAILED, error_code=str(code) if code else None, error=text)


# Twilio's message statuses, in the order a message goes through them; rank 3 and up is terminal.
RANK: dict[str, int] = {
    "queued": 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "canceled": 3,
    "read": 4,
}
TERMINAL = 3


def may_follow(new: str) -> frozenset[str]:
    """The current statuses that `new` may replace: lower ranks, and only `delivered` among terminal ones."""
    rank = RANK[new]
    earlier = {status for status, r in RANK.items() if r < min(rank, TERMINAL)}
    if new == "read":
        earlier.add("delivered")
    return frozenset(earlier)


def error_code(raw: str) -> int | None:
    """A Twilio ErrorCode field as a number (None when absent or not a number)."""
    value = raw.strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None
