"""Telegram through python-telegram-bot: secret-token check, update parsing, buttons, sends, webhook, polling."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.request import HTTPXRequest

from bot.channels.base import InvalidInbound
from bot.messages import Address, Channel, Inbound, MediaRef, Outbound, SendResult, SendStatus
from bot.settings import TelegramSettings

log = logging.getLogger("loopline.telegram")
WEBHOOK_PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
MAX_CALLBACK_BYTES = 64


def secret_matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of the webhook secret token header."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: loading the system's certificates costs ~30 ms, once instead of per client."""
    return ssl.create_default_context()


def _request(pool_size: int) -> HTTPXRequest:
    """python-telegram-bot's HTTP client (its defaults) on the process's shared TLS context."""
    return HTTPXRequest(connection_pool_size=pool_size, httpx_kwargs={"verify": _tls()})


def keyboard(outbound: Outbound) -> InlineKeyboardMarkup | None:
    """One inline button per row for each choice; callback data is the choice value (at most 64 bytes)."""
    if not outbound.choices:
        return None
    rows = [
        [
            InlineKeyboardButton(
                choice.label[:64],
                callback_data=choice.value.encode()[:MAX_CALLBACK_BYTES].decode("utf-8", "ignore"),
            )
        ]
        for choice in outbound.choices
    ]
    return InlineKeyboardMarkup(rows)


def _text_or_none(value: object) -> str | None:
    return value[:64] if isinstance(value, str) else None


def _ref(found: object, default_type: str | None) -> MediaRef | None:
    """A file as Telegram describes it (its file_id, its declared type, size and name)."""
    file_id = getattr(found, "file_id", None)
    if not isinstance(file_id, str) or not file_id:
        return None
    mime, size, name = (getattr(found, key, None) for key in ("mime_type", "file_size", "file_name"))
    return MediaRef(
        file_id[:1000],
        mime[:100] if isinstance(mime, str) and mime else default_type,
        size if isinstance(size, int) else None,
        name[:255] if isinstance(name, str) and name else None,
    )


def _media(message: Message) -> tuple[MediaRef, ...]:
    """The files we keep from a message: a photo (its largest size), a voice note, an audio file, or a document that
    says it is a PDF, an image or audio (the media worker checks what each really is)."""
    found: list[MediaRef | None] = []
    if message.photo:
        largest = max(message.photo, key=lambda size: (size.width or 0) * (size.height or 0))
        found.append(_ref(largest, "image/jpeg"))
    for item, default in ((message.voice, "audio/ogg"), (message.audio, "audio/mpeg")):
        if item is not None:
            found.append(_ref(item, default))
    document = message.document
    kind = (document.mime_type or "") if document is not None else ""
    if document is not None and (kind == "application/pdf" or kind.startswith(("image/", "audio/"))):
        found.append(_ref(document, None))
    return tuple(ref for ref in found if ref is not None)


class TelegramChannel:
    """The Telegram channel adapter (one bot)."""

    channel = Channel.TELEGRAM

    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        base = settings.api_base
        self.bot = Bot(
            settings.token,
            base_url=f"{base}/bot" if base else "https://api.telegram.org/bot",
            base_file_url=f"{base}/file/bot" if base else "https://api.telegram.org/file/bot",
            request=_request(256),
            get_updates_request=_request(1),
        )

    async def start(self) -> None:
        """Open the bot's HTTP connections."""
        await self.bot.initialize()

    async def stop(self) -> None:
        """Close the bot's HTTP connections."""
        await self.bot.shutdown()

    def parse(self, data: Mapping[str, Any]) -> tuple[Inbound | None, str | None]:
        """The Inbound of an update (None for updates that carry no message) and a callback query id to answer."""
        try:
            update = Update.de_json(dict(data), self.bot)
            if update is None or not isinstance(update.update_id, int):
                raise InvalidInbound("not a Telegram update")
            return self._inbound(update)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
            raise InvalidInbound(f"not a usable Telegram update ({type(exc).__name__})") from exc

    @staticmethod
    def _inbound(update: Update) -> tuple[Inbound | None, str | None]:
        provider_id = str(update.update_id)
        query = update.callback_query
        if query is not None:
            user = query.from_user
            chat = query.message.chat if query.message is not None else None
            chat_id = chat.id if chat is not None else (user.id if user is not None else None)
            if not isinstance(chat_id, int) or not isinstance(query.data or "", str):
                raise InvalidInbound("a button press without a chat or with odd data")
            inbound = Inbound(
                Address(Channel.TELEGRAM, str(chat_id)),
                (query.data or "")[:5000],
                provider_id,
                datetime.now(UTC),
                language_hint=_text_or_none(user.language_code if user else None),
                display_name=_text_or_none(user.first_name if user else None),
                is_button=True,
            )
            return inbound, query.id if isinstance(query.id, str) else None
        message = update.message or update.edited_message
        if message is None:
            return None, None
        if message.chat is None or not isinstance(message.chat.id, int) or message.chat.type != "private":
            raise InvalidInbound("only private chats are served")
        media = _media(message)
        # A caption is the message's text; a file we do not keep (a video, a sticker) is named, as before.
        text = message.text or message.caption or ("[attachment]" if message.effective_attachment and not media else "")
        if not isinstance(text, str):
            raise InvalidInbound("the message text is not text")
        sender = message.from_user
        sent_at = message.date.astimezone(UTC) if isinstance(message.date, datetime) else datetime.now(UTC)
        inbound = Inbound(
            Address(Channel.TELEGRAM, str(message.chat.id)),
            text[:5000],
            provider_id,
            sent_at,
            language_hint=_text_or_none(sender.language_code if sender else None),
            display_name=_text_or_none(sender.first_name if sender else None),
            media=media,
        )
        return inbound, None

    async def file_url(self, file_id: str) -> str:
        """Where a file a resident sent can be downloaded (getFile; the URL holds the bot's token: never log it)."""
        found = await self.bot.get_file(file_id)
        if not found.file_path:
            raise BadRequest("getFile named no file path")
        return str(found.file_path)

    async def answer_callback(self, query_id: str) -> None:
        """Stop the button's spinner; failures here never matter to the conversation."""
        with contextlib.suppress(TelegramError):
            await self.bot.answer_callback_query(query_id)

    async def send(self, outbound: Outbound) -> SendResult:
        """Send one message with its buttons and classify any error."""
        try:
            sent = await self.bot.send_message(
                chat_id=int(outbound.address.value), text=outbound.text, reply_markup=keyboard(outbound)
            )
        except RetryAfter as exc:
            delay = exc.retry_after
            seconds = delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay)
            return SendResult(SendStatus.RETRY, retry_after=seconds, error_code="429", error="retry after")
        except Forbidden as exc:
            return SendResult(SendStatus.FAILED, error_code="403", error=str(exc)[:200], unreachable=True)
        except BadRequest as exc:
            unreachable = "chat not found" in str(exc).lower()
            return SendResult(SendStatus.FAILED, error_code="400", error=str(exc)[:200], unreachable=unreachable)
        except (TimedOut, NetworkError) as exc:
            return SendResult(SendStatus.RETRY, error=type(exc).__name__)
        return SendResult(SendStatus.SENT, provider_id=f"{sent.chat_id}:{sent.message_id}")

    async def register_webhook(self, public_url: str) -> None:
        """Tell Telegram where to deliver updates, with our secret token."""
        await self.bot.set_webhook(
            url=public_url.rstrip("/") + WEBHOOK_PATH,
            secret_token=self.settings.secret,
            allowed_updates=["message", "edited_message", "callback_query"],
        )

    async def poll(
        self,
        handle: Callable[[dict[str, Any]], Awaitable[None]],
        running: Callable[[], bool],
        interval: float = 0.5,
    ) -> None:
        """Long-poll getUpdates and hand each raw update to the same handler the webhook uses."""
        await self.bot.delete_webhook()
        offset = 0
        while running():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=10, allowed_updates=["message", "edited_message", "callback_query"]
                )
            except RetryAfter as exc:
                delay = exc.retry_after
                await asyncio.sleep(delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay))
                continue
            except TelegramError:
                await asyncio.sleep(interval * 4)
                continue
            for update in updates:
                try:
                    await handle(update.to_dict())
                except Exception as exc:  # not stored (e.g. the database is busy): asked for again next time
                    log.warning("telegram update not handled yet (%s); retrying", type(exc).__name__)
                    await asyncio.sleep(interval * 4)
                    break
                offset = max(offset, update.update_id + 1)
            if not updates:
                await asyncio.sleep(interval)
