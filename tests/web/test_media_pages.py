"""Residents' files on the inbox item's page: images shown (with alt text), recordings played, PDFs linked, each served
by an authenticated route with its checked type, nosniff, a download name and a CSP that runs nothing; files on their
way or refused say so to staff; staff mark a file publishable (audited)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.messages import Channel, MediaRef
from bot.runtime import Runtime
from bot.store.engagement import AuditEvent
from bot.store.media import Attachment
from tests.conftest import make_settings
from tests.support.chat import Chat
from tests.support.media import HTML, OGG_OPUS, PDF, png, send_media, store_files
from tests.support.staff import make_user, sign_in

NUMBER = "+14155550166"


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The web app's runtime, with files kept in the test's folder."""
    rt = Runtime(make_settings(database_url, LOOPLINE_TELEGRAM_TOKEN="", LOOPLINE_MEDIA_DIR=str(tmp_path / "media")))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def _item_with_files(runtime: Runtime) -> tuple[int, list[int]]:
    resident = Chat(runtime, Channel.SMS, NUMBER)
    for text in ("hi", "1", "yes", "94110", "2", "FEEDBACK"):
        resident.send(text)
    files = {"u:photo": png(), "u:voice": OGG_OPUS, "u:pdf": PDF, "u:page": HTML, "u:later": b""}
    refs = tuple(MediaRef(source, "image/jpeg") for source in files)
    send_media(runtime, Channel.SMS, NUMBER, refs, "The bus shelter glass is broken")
    resident.send("1")
    resident.send("yes")
    del files["u:later"]  # still on its way
    store_files(runtime, Channel.SMS, files)
    with runtime.db.transaction() as session:
        rows = session.scalars(select(Attachment).order_by(Attachment.id)).all()
        from bot.store.engagement import InputItem

        ref = session.scalars(select(InputItem.ref)).one()
        return ref, [row.id for row in rows]


def test_staff_see_the_photo_hear_the_recording_and_get_the_pdf(client: TestClient, runtime: Runtime) -> None:
    ref, (photo, voice, pdf, page, later) = _item_with_files(runtime)
    sign_in(client, make_user(runtime, "staff"))
    html = client.get(f"/dashboard/inbox/{ref}").text
    assert re.search(rf'<img src="/dashboard/media/{photo}" alt="Photo 1 the resident sent with item #{ref}"', html)
    assert f'<audio controls preload="metadata" src="/dashboard/media/{voice}"' in html
    assert f'<a href="/dashboard/media/{pdf}">Download the PDF document' in html
    assert "was not kept: not an accepted kind of file (declared image/jpeg)" in html
    assert "is being fetched from the provider" in html
    assert f'/dashboard/media/{page}"' not in html and f'/dashboard/media/{later}"' not in html

    listed = client.get("/dashboard/inbox").text
    assert re.search(rf"#{ref}</a>.*?\(3 files\)</span>", listed, re.S)  # kept ones: not the refused, not the pending

    shown = client.get(f"/dashboard/media/{photo}")
    assert shown.status_code == 200 and shown.content == png()
    assert shown.headers["content-type"] == "image/png"
    assert shown.headers["x-content-type-options"] == "nosniff"
    assert shown.headers["content-disposition"] == f'inline; filename="file-{photo}.png"'
    assert shown.headers["content-security-policy"] == "default-src 'none'; sandbox; frame-ancestors 'none'"
    assert "no-store" in shown.headers["cache-control"]
    assert client.get(f"/dashboard/media/{voice}").headers["content-type"] == "audio/ogg"
    document = client.get(f"/dashboard/media/{pdf}")
    assert document.headers["content-disposition"] == f'attachment; filename="file-{pdf}.pdf"'
    for refused in (page, later, 999999):
        assert client.get(f"/dashboard/media/{refused}").status_code == 404


def test_nobody_signed_out_gets_a_file(client: TestClient, runtime: Runtime) -> None:
    _ref, (photo, *_rest) = _item_with_files(runtime)
    answer = client.get(f"/dashboard/media/{photo}", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_marking_a_file_publishable_is_audited(client: TestClient, runtime: Runtime) -> None:
    ref, (photo, *_rest) = _item_with_files(runtime)
    csrf = sign_in(client, make_user(runtime, "staff"))
    done = client.post(f"/dashboard/media/{photo}/publishable", data={"csrf_token": csrf, "publishable": "1"})
    assert done.status_code == 200 and "Partners and viewers may see the file." in done.text
    with runtime.db.transaction() as session:
        assert session.get(Attachment, photo).publishable  # type: ignore[union-attr]
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "item.file_publishable")).one()
        assert event.subject == f"item:{ref}" and event.details == {"file": photo, "publishable": True}
        assert event.actor.endswith("staff@health.example")
