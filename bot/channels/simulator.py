"""The simulator channel: a resident in the browser or the terminal, answered through the real pipeline."""

from __future__ import annotations

import re
from datetime import datetime

from bot.channels.base import InvalidInbound
from bot.messages import Address, Channel, Inbound, Outbound, SendResult, SendStatus

_HANDLE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


def parse(handle: str, text: str, message_id: str, received_at: datetime, language: str | None = None) -> Inbound:
    """An Inbound from the simulator; the handle names the simulated resident."""
    if not _HANDLE.match(handle):
        raise InvalidInbound("the simulator handle must be 1-40 letters, digits, . _ or -")
    if not re.match(r"^[A-Za-z0-9_-]{1,64}$", message_id):
        raise InvalidInbound("the simulator message id must be 1-64 letters, digits, _ or -")
    return Inbound(Address(Channel.SIMULATOR, handle), text[:5000], message_id, received_at, language)


class SimulatorChannel:
    """Sending to the simulator needs no provider: the page reads the stored messages."""

    channel = Channel.SIMULATOR

    async def send(self, outbound: Outbound) -> SendResult:
        """Always delivered; the message row is the delivery."""
        return SendResult(SendStatus.SENT)
