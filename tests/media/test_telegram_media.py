"""Telegram files: an update's photo (its largest size), voice note, audio file or document (PDF, image) becomes the
message's files, its caption its text; the media worker gets each through getFile and the file URL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.channels.telegram import TelegramChannel
from bot.messages import Channel, MediaRef
from bot.runtime import Runtime
from bot.store.media import Attachment, MediaStatus
from tests.conftest import make_settings
from tests.support.media import OGG_OPUS, PDF, png, send_media
from tests.support.telegram_files import TelegramFiles, telegram_files

CHAT = 730125599


def _update(**message: Any) -> dict[str, Any]:
    base = {
        "message_id": 5,
        "date": 1764835200,
        "chat": {"id": CHAT, "type": "private"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "Ana", "language_code": "es"},
    }
    return {"update_id": 901, "message": {**base, **message}}


@pytest.fixture
def channel(runtime: Runtime) -> TelegramChannel:
    assert runtime.settings.telegram is not None
    return TelegramChannel(runtime.settings.telegram)


@pytest.fixture
def front() -> Iterator[TelegramFiles]:
    with telegram_files() as found:
        yield found


@pytest.fixture
def runtime(database_url: str, front: TelegramFiles, tmp_path: Path) -> Iterator[Runtime]:
    settings = make_settings(
        database_url, LOOPLINE_TELEGRAM_API_BASE=front.url, LOOPLINE_MEDIA_DIR=str(tmp_path / "media")
    )
    rt = Runtime(settings)
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def test_a_photo_is_its_largest_size_and_the_caption_is_the_text(channel: TelegramChannel) -> None:
    sizes = [
        {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60, "file_size": 900},
        {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853, "file_size": 99000},
        {"file_id": "mid", "file_unique_id": "m", "width": 320, "height": 213, "file_size": 9000},
    ]
    inbound, _ = channel.parse(_update(photo=sizes, caption="El columpio roto"))
    assert inbound is not None
    assert inbound.text == "El columpio roto"
    assert inbound.media == (MediaRef("large", "image/jpeg", 99000, None),)


def test_voice_audio_and_documents(channel: TelegramChannel) -> None:
    voice = {"file_id": "v1", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg", "file_size": 5000}
    inbound, _ = channel.parse(_update(voice=voice))
    assert inbound is not None and inbound.text == ""
    assert inbound.media == (MediaRef("v1", "audio/ogg", 5000, None),)
    audio = {"file_id": "a1", "file_unique_id": "a", "duration": 9, "mime_type": "audio/mpeg", "file_name": "x.mp3"}
    assert channel.parse(_update(audio=audio))[0].media == (MediaRef("a1", "audio/mpeg", None, "x.mp3"),)  # type: ignore[union-attr]
    pdf = {"file_id": "d1", "file_unique_id": "d", "mime_type": "application/pdf", "file_name": "notice.pdf"}
    assert channel.parse(_update(document=pdf))[0].media == (MediaRef("d1", "application/pdf", None, "notice.pdf"),)  # type: ignore[union-attr]
    zipped = {"file_id": "z1", "file_unique_id": "z", "mime_type": "application/zip", "file_name": "a.zip"}
    other, _ = channel.parse(_update(document=zipped))
    assert other is not None and other.media == () and other.text == "[attachment]"  # not a kind we keep


def test_the_media_worker_gets_telegram_files_through_get_file(runtime: Runtime, front: TelegramFiles) -> None:
    front.add("photo-1", png())
    front.add("voice-1", OGG_OPUS, "voice/file_2.oga")
    front.add("doc-1", PDF, "documents/file_3.pdf")
    refs = (
        MediaRef("photo-1", "image/jpeg", len(png())),
        MediaRef("voice-1", "audio/ogg"),
        MediaRef("doc-1", "application/pdf"),
        MediaRef("gone", "image/jpeg"),
    )
    send_media(runtime, Channel.TELEGRAM, str(CHAT), refs)
    done = asyncio.run(runtime.media.run_once())
    assert (done["stored"], done["refused"]) == (3, 1)
    with runtime.db.transaction() as session:
        rows = [
            (r.status, r.content_type, r.error) for r in session.scalars(select(Attachment).order_by(Attachment.id))
        ]
    assert rows[:3] == [
        (MediaStatus.STORED, "image/png", None),
        (MediaStatus.STORED, "audio/ogg", None),
        (MediaStatus.STORED, "application/pdf", None),
    ]
    assert rows[3] == (MediaStatus.FAILED, None, "Telegram has no such file to give (BadRequest)")
    assert "getFile photo-1" in front.asked and "file photos/photo-1.jpg" in front.asked
