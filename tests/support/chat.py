"""A test resident that holds a conversation with the bot through the real pipeline on a real database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.messages import BUTTON_SEPARATOR, Address, Channel, Inbound
from bot.runtime import Runtime
from bot.store.models import OutboxItem

_ids = itertools.count(1)


def _value(data: str) -> str:
    """The choice value in a button's data ("ask_consent|yes" -> "yes")."""
    return data.rpartition(BUTTON_SEPARATOR)[2]


@dataclass
class Said:
    """One thing the bot said: its text and, on Telegram, its buttons as (value, label)."""

    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Chat:
    """Push a message, pop the bot's replies (errbot's testbot, on our pipeline)."""

    runtime: Runtime
    channel: Channel
    address: str
    language_hint: str | None = None
    pressable: dict[str, str] = field(default_factory=dict)  # value -> the data of the last buttons shown

    def send(self, text: str, *, button: bool = False, provider_id: str | None = None) -> list[Said]:
        """Send one message as the resident and return what the bot answered to it."""
        if button:
            text = self.pressable.get(text, text)  # press the real button: its data names the question
        inbound = Inbound(
            Address(self.channel, self.address),
            text,
            provider_id or f"test-{next(_ids)}",
            self.runtime.clock.now(),
            language_hint=self.language_hint,
            is_button=button,
        )
        inline = self.channel in (Channel.SMS, Channel.SIMULATOR)  # Telegram and WhatsApp answer through the outbox
        handled = self.runtime.pipeline.handle(inbound, reply_inline=inline)
        if inline:
            return [Said(o.text) for o in handled.immediate]
        if handled.message_id is None:
            return []
        with self.runtime.db.transaction() as session:
            rows = session.scalars(
                select(OutboxItem)
                .where(OutboxItem.idempotency_key.like(f"%:{handled.message_id}:%"))
                .order_by(OutboxItem.id)
            ).all()
            said = [Said(r.text, [(_value(v), label) for v, label in r.choices.get("choices", [])]) for r in rows]
            shown = [v for r in rows for v, _label in r.choices.get("choices", [])]
        if shown:
            self.pressable = {_value(data): data for data in shown}
        return said

    def texts(self, text: str, **kwargs: object) -> list[str]:
        """Only the texts of the replies."""
        return [said.text for said in self.send(text, **kwargs)]  # type: ignore[arg-type]
