"""A test resident that holds a conversation with the bot through the real pipeline on a real database."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.messages import Address, Channel, Inbound
from bot.runtime import Runtime
from bot.store.models import OutboxItem

_ids = itertools.count(1)


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

    def send(self, text: str, *, button: bool = False, provider_id: str | None = None) -> list[Said]:
        """Send one message as the resident and return what the bot answered to it."""
        inbound = Inbound(
            Address(self.channel, self.address),
            text,
            provider_id or f"test-{next(_ids)}",
            self.runtime.clock.now(),
            language_hint=self.language_hint,
            is_button=button,
        )
        inline = self.channel is not Channel.TELEGRAM
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
            return [Said(r.text, [(v, label) for v, label in r.choices.get("choices", [])]) for r in rows]

    def texts(self, text: str, **kwargs: object) -> list[str]:
        """Only the texts of the replies."""
        return [said.text for said in self.send(text, **kwargs)]  # type: ignore[arg-type]
