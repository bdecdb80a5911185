"""Files residents send, from the webhook to the store: a pending row stored with the message (nothing fetched in the
webhook's time), then the media worker fetches it as Twilio serves it (Basic auth, one redirect to another origin that
never sees the credentials), checks its size while it streams and its kind by its bytes, and keeps it under a key that
names no one, or keeps why it did not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.messages import Channel, MediaRef
from bot.runtime import Runtime
from bot.store.media import Attachment, MediaStatus
from bot.store.models import Message
from tests.media.conftest import fetch
from tests.support.media import HTML, OGG_OPUS, PDF, TwilioMediaHost, png, send_media

NUMBER = "+14155550142"


def _rows(runtime: Runtime) -> list[Attachment]:
    with runtime.db.transaction() as session:
        rows = list(session.scalars(select(Attachment).order_by(Attachment.id)))
        session.expunge_all()
    return rows


def test_an_mms_image_is_stored_pending_then_fetched_checked_and_kept(
    runtime: Runtime, host: TwilioMediaHost, media_dir: Path
) -> None:
    image = png()
    handled = send_media(runtime, Channel.SMS, NUMBER, (host.add("1", image, "image/jpeg"),), "the broken swing")
    [pending] = _rows(runtime)
    assert pending.status == MediaStatus.PENDING and pending.message_id == handled.message_id
    assert host.seen_auth == []  # nothing was fetched while the webhook waited

    assert fetch(runtime)["stored"] == 1
    [stored] = _rows(runtime)
    assert stored.status == MediaStatus.STORED and stored.error is None
    assert stored.content_type == "image/png"  # what the bytes are, not what was declared
    assert stored.size == len(image) and stored.sha256 and stored.fetched_at is not None
    assert host.seen_auth == [True] and host.storage_saw_auth == [False]
    assert stored.storage_key is not None and NUMBER.lstrip("+") not in stored.storage_key
    assert "swing" not in stored.storage_key
    assert (media_dir / stored.storage_key).read_bytes() == image
    assert runtime.storage.get(stored.storage_key) == image
    assert fetch(runtime) == {"erased": 0, "stored": 0, "refused": 0, "later": 0}  # done once


def test_audio_and_pdf_are_kept_by_their_bytes(runtime: Runtime, host: TwilioMediaHost) -> None:
    refs = (host.add("2", OGG_OPUS, "audio/ogg"), host.add("3", PDF, "application/pdf"))
    send_media(runtime, Channel.WHATSAPP, "+14155550143", refs)
    fetch(runtime)
    assert [(r.status, r.content_type, r.channel) for r in _rows(runtime)] == [
        (MediaStatus.STORED, "audio/ogg", "whatsapp"),
        (MediaStatus.STORED, "application/pdf", "whatsapp"),
    ]


def test_oversize_wrong_kind_and_foreign_urls_are_refused_with_the_reason_kept(
    runtime: Runtime, host: TwilioMediaHost, media_dir: Path
) -> None:
    big = png(400, 400, (1, 2, 3)) + bytes(range(256)) * 400  # over 0.05 MB however it compresses
    refs = (
        host.add("4", big, "image/png"),
        host.add("5", HTML, "image/jpeg"),  # declared an image; its bytes are a web page
        MediaRef("http://127.0.0.1:9/2010-04-01/Accounts/x/Media/ME6", "image/png"),  # not Twilio's origin
        MediaRef(host.add("7", png(), "image/png").source, "image/png", size=10**9),  # declared too big: not fetched
    )
    send_media(runtime, Channel.SMS, NUMBER, refs)
    assert fetch(runtime)["refused"] == 4
    reasons = {r.position: (r.status, r.error) for r in _rows(runtime)}
    assert reasons[0] == (MediaStatus.FAILED, "larger than the limit of 0.05 MB")
    assert reasons[1] == (MediaStatus.FAILED, "not an accepted kind of file (declared image/jpeg)")
    assert reasons[2] == (MediaStatus.FAILED, "not a Twilio media URL")
    assert reasons[3] == (MediaStatus.FAILED, "larger than the limit of 0.05 MB")
    assert len(host.seen_auth) == 2  # the foreign URL and the declared-too-big one were never requested
    assert not media_dir.exists() or not any(p.is_file() for p in media_dir.rglob("*"))


def test_a_passing_failure_is_tried_again_later_then_given_up(runtime: Runtime, host: TwilioMediaHost) -> None:
    host.answers["8"] = 503
    send_media(runtime, Channel.SMS, NUMBER, (host.add("8", png()),))
    assert fetch(runtime)["later"] == 1
    [row] = _rows(runtime)
    assert row.status == MediaStatus.PENDING and row.attempts == 1 and row.error == "the provider answered HTTP 503"
    assert row.next_attempt_at is not None and row.next_attempt_at > runtime.clock.now() + timedelta(seconds=20)
    assert fetch(runtime)["later"] == 0  # not due yet
    for _ in range(4):  # each time it is due again
        with runtime.db.transaction() as session:
            session.get(Attachment, row.id).next_attempt_at = runtime.clock.now() - timedelta(seconds=1)  # type: ignore[union-attr]
        fetch(runtime)
    [row] = _rows(runtime)
    assert row.status == MediaStatus.FAILED and row.attempts == 5
    assert row.error == "given up after 5 attempts: the provider answered HTTP 503"


def test_a_message_without_files_stores_no_attachment_row(runtime: Runtime) -> None:
    send_media(runtime, Channel.SMS, NUMBER, (), "hello")
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) >= 1


def test_a_duplicate_webhook_stores_its_files_once(runtime: Runtime, host: TwilioMediaHost) -> None:
    from bot.messages import Address, Inbound

    ref = host.add("9", png())
    inbound = Inbound(Address(Channel.SMS, NUMBER), "", "MMdup", runtime.clock.now(), media=(ref,))
    runtime.pipeline.handle(inbound, reply_inline=True)
    assert runtime.pipeline.handle(inbound, reply_inline=True).duplicate
    assert len(_rows(runtime)) == 1
