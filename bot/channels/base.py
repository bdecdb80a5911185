"""The one interface every channel adapter implements: send an Outbound, report a SendResult."""

from __future__ import annotations

from typing import Protocol

from bot.messages import Channel, Outbound, SendResult


class InvalidInbound(ValueError):
    """A provider request was authentic but cannot become a message (the reason is safe to log)."""


class ChannelAdapter(Protocol):
    """A provider connection: knows the provider, nothing of the core."""

    channel: Channel

    async def send(self, outbound: Outbound) -> SendResult:
        """Try to deliver one message; never raises for provider errors, it classifies them."""
        ...
