"""Files in a conversation: a file alone answers where words are asked (it becomes the feedback), is kept as input
when said outside a conversation, and is acknowledged without moving the conversation when another question waits;
files join the input item their conversation ends in. Erasure deletes the stored files, from the dashboard's erase and
from DELETE MY DATA."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.engagement.residents import privacy
from bot.messages import Channel
from bot.runtime import Runtime
from bot.staff import audit
from bot.store.engagement import InputItem
from bot.store.media import Attachment, MediaStatus
from bot.store.models import ConversationSession
from tests.media.conftest import fetch
from tests.support.chat import Chat
from tests.support.media import TwilioMediaHost, png, send_media

NUMBER = "+14155550177"


def _joined(runtime: Runtime) -> Chat:
    resident = Chat(runtime, Channel.SMS, NUMBER)
    for text in ("hi", "1", "yes", "94110"):
        resident.send(text)
    return resident


def _said(runtime: Runtime, host: TwilioMediaHost, name: str, text: str = "") -> list[str]:
    handled = send_media(runtime, Channel.SMS, NUMBER, (host.add(name, png(), "image/jpeg"),), text)
    return [reply.text for reply in handled.immediate]


def _items(runtime: Runtime) -> list[tuple[str, list[int]]]:
    with runtime.db.transaction() as session:
        return [
            (item.text, list(session.scalars(select(Attachment.position).where(Attachment.item_id == item.id))))
            for item in session.scalars(select(InputItem).order_by(InputItem.id))
        ]


def _node(runtime: Runtime) -> str | None:
    with runtime.db.transaction() as session:
        return session.scalar(select(ConversationSession.node))


def test_a_photo_alone_during_feedback_becomes_the_feedback(runtime: Runtime, host: TwilioMediaHost) -> None:
    resident = _joined(runtime)
    resident.send("FEEDBACK")
    replies = _said(runtime, host, "a")
    assert replies and replies[0].startswith("What is it mostly about?")  # taken as the answer: the flow goes on
    resident.send("1")
    [thanks] = resident.send("yes")
    assert "Your reference is #" in thanks.text
    assert _items(runtime) == [("[photo]", [0])]


def test_a_photo_sent_while_a_choice_waits_is_kept_and_the_question_stays(
    runtime: Runtime, host: TwilioMediaHost
) -> None:
    resident = _joined(runtime)
    resident.send("FEEDBACK")
    resident.send("The swings in the park are broken")
    assert _node(runtime) == "ask_topic"
    assert _said(runtime, host, "b") == ["Thank you, we received your file. To go on, please answer the last question."]
    assert _node(runtime) == "ask_topic"  # not derailed
    [asked] = resident.send("1")
    assert asked.text.startswith("May our team contact you")
    resident.send("yes")
    assert _items(runtime) == [("The swings in the park are broken", [0])]  # the photo joined the item


def test_the_acknowledgement_is_in_the_residents_language(runtime: Runtime, host: TwilioMediaHost) -> None:
    resident = Chat(runtime, Channel.SMS, NUMBER)
    for text in ("hi", "2", "sí"):
        resident.send(text)
    assert _node(runtime) is not None  # the optional area question waits
    assert _said(runtime, host, "c") == ["Gracias, recibimos su archivo. Para continuar, responda la última pregunta."]


def test_a_photo_with_words_outside_a_conversation_is_input_with_its_photo(
    runtime: Runtime, host: TwilioMediaHost
) -> None:
    _joined(runtime).send("2")  # no to the questions about oneself: no conversation now
    assert _node(runtime) is None
    [kept] = _said(runtime, host, "d", "Pothole on 24th street")
    assert "we received your message as #" in kept
    _said(runtime, host, "e")  # a photo alone, too
    assert _items(runtime) == [("Pothole on 24th street", [0]), ("[photo]", [0])]


def test_staff_erasure_deletes_the_stored_files(runtime: Runtime, host: TwilioMediaHost, media_dir: Path) -> None:
    resident = _joined(runtime)
    resident.send("FEEDBACK")
    _said(runtime, host, "f")
    fetch(runtime)
    with runtime.db.transaction() as session:
        [row] = session.scalars(select(Attachment))
        key, resident_id = row.storage_key, row.resident_id
    assert key is not None and (media_dir / key).is_file()
    with runtime.db.transaction() as session:
        found = privacy.find_resident(session, resident_id)
        assert found is not None
        counts = privacy.erase(session, found)
        audit.record(session, "cli:test", "resident.erase", f"resident:{resident_id}", runtime.clock.now(), **counts)
    assert counts["files"] == 1
    with runtime.db.transaction() as session:  # no link to them at once; the file goes once the erasure is committed
        [row] = session.scalars(select(Attachment))
        assert (row.status, row.resident_id, row.message_id, row.source) == (MediaStatus.ERASING, None, None, "")
    assert runtime.purge_media() == 1
    assert not (media_dir / key).exists()
    with runtime.db.transaction() as session:
        assert session.scalars(select(Attachment)).all() == []


def test_delete_my_data_deletes_the_files_at_the_media_workers_next_run(
    runtime: Runtime, host: TwilioMediaHost, media_dir: Path
) -> None:
    resident = _joined(runtime)
    resident.send("2")
    _said(runtime, host, "g", "Broken streetlight")
    _said(runtime, host, "h")  # not fetched yet when they erase: its row simply goes
    host.answers["h"] = 503
    fetch(runtime)
    stored = [p for p in media_dir.rglob("*") if p.is_file()]
    assert len(stored) == 1
    resident.send("DELETE MY DATA")
    [done] = resident.send("yes")
    assert done.text.startswith("Everything we held about you is deleted")
    assert fetch(runtime)["erased"] == 1
    assert [p for p in media_dir.rglob("*") if p.is_file()] == []
    with runtime.db.transaction() as session:
        assert session.scalars(select(Attachment)).all() == []


def test_merging_two_records_moves_the_files_with_them(runtime: Runtime, host: TwilioMediaHost) -> None:
    from bot.engagement.residents import merge
    from bot.store.models import Resident

    _joined(runtime).send("2")
    _said(runtime, host, "m", "The crossing light is too short")
    Chat(runtime, Channel.TELEGRAM, "730125588").send("hi")
    with runtime.db.transaction() as session:
        first, second = session.scalars(select(Resident.id).order_by(Resident.id)).all()
        merge.merge(session, second, first, runtime.clock.now())
        assert session.scalars(select(Attachment.resident_id)).all() == [second]
