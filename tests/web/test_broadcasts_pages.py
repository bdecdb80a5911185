"""Broadcast pages: compose per language, preview (segments, encoding, cost), send exactly that, status."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.engagement.broadcasts.sending import PURPOSE_PREFIX
from bot.runtime import Runtime
from bot.staff import sharing
from bot.store.engagement import AuditEvent, Broadcast
from bot.store.models import OutboxItem
from bot.store.staff import Organization
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.web.test_polls_pages import joined

PLAIN = "Free flu shots Sunday at the Eastside Library."
WITH_EMOJI = "Free flu shots Sunday \U0001f489 at the Eastside Library."
SPANISH = "Vacunas gratis el domingo en la Biblioteca Eastside."


def residents(chat: Callable[..., Chat]) -> None:
    joined(chat, "+14155550101", "1", ("hi", "yes", "skip"))
    joined(chat, "+14155550102", "2", ("hola", "sí", "omitir"))
    joined(chat, "+14155550103", "6", ("Bonjour", "oui", "passer"))


def queued(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(OutboxItem).where(OutboxItem.purpose.like(f"{PURPOSE_PREFIX}%"))
            )
            or 0
        )


def row_text(page: str, row_id: str) -> str:
    row = page.split(f'id="{row_id}">', 1)[1].split("</tr>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()


def test_preview_then_send_exactly_what_was_previewed(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    residents(chat)
    email = make_user(runtime, "staff")
    csrf = sign_in(client, email)
    assert client.get("/dashboard/broadcasts/new").status_code == 200
    form = {"csrf_token": csrf, "name": "Flu shots", "text.en": PLAIN, "text.es": SPANISH, "audience": ""}

    plain = client.post("/dashboard/broadcasts/new", data={**form, "action": "preview"})
    assert plain.status_code == 200
    assert 'id="preview-total">3<' in plain.text
    assert row_text(plain.text, "preview-en") == f"English (en) {PLAIN} sms 1 GSM-7 1 $0.0083"
    assert 'id="preview-cost">$0.02<' in plain.text  # two SMS recipients at $0.0083, to the cent
    assert "1 speaks Français (fr)" in plain.text  # no French text and no fallback

    emoji = client.post("/dashboard/broadcasts/new", data={**form, "text.en": WITH_EMOJI, "action": "preview"})
    english = row_text(emoji.text, "preview-en")
    assert "UCS-2" in english and "Forced to Unicode by \U0001f489" in english
    assert english.endswith(" 1 $0.0083")
    long_emoji = WITH_EMOJI + " Bring your insurance card if you have one; no one is turned away."
    two = client.post("/dashboard/broadcasts/new", data={**form, "text.en": long_emoji, "action": "preview"})
    assert row_text(two.text, "preview-en").endswith(
        "UCS-2 Forced to Unicode by \U0001f489 (70 characters a segment instead of 160) 2 $0.02"
    )

    refused = client.post("/dashboard/broadcasts/new", data={**form, "action": "send", "confirmed": "1"})
    assert refused.status_code == 400 and "choose a fallback" in refused.text
    assert queued(runtime) == 0

    previewed = client.post("/dashboard/broadcasts/new", data={**form, "fallback": "en", "action": "preview"})
    total = int(re.search(r'id="preview-total">(\d+)<', previewed.text).group(1))  # type: ignore[union-attr]
    assert total == 3 and "preview-missing" not in previewed.text
    # Send asks first: a page that repeats the preview, whose button carries the draft and sends it.
    asked = client.post("/dashboard/broadcasts/new", data={**form, "fallback": "en", "action": "send"})
    assert asked.status_code == 200 and queued(runtime) == 0
    assert "Confirm and send to 3 residents" in asked.text and 'id="preview-total">3<' in asked.text
    assert "It goes out " in asked.text
    carried = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', asked.text))
    assert carried["confirmed"] == "1" and carried["fallback"] == "en" and carried["text.en"] == PLAIN
    sent = client.post("/dashboard/broadcasts/new", data={**carried, "action": "send"}, follow_redirects=False)
    assert sent.status_code == 303
    assert queued(runtime) == total
    status = client.get(sent.headers["location"]).text
    assert "3 messages queued." in status and 'id="outbox-queued">3<' in status
    with runtime.db.transaction() as session:
        texts = sorted(session.scalars(select(OutboxItem.text).where(OutboxItem.purpose.like(f"{PURPOSE_PREFIX}%"))))
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "broadcast.send")).one()
        broadcast = session.scalars(select(Broadcast)).one()
    assert texts == sorted([PLAIN, PLAIN, SPANISH])  # the French resident got the fallback's text
    assert audit.actor == f"user:{email}" and audit.subject == f"broadcast:{broadcast.id}"
    assert audit.details["recipients"] == 3 and audit.details["fallback"] == "en" and audit.details["urgent"] is False
    assert "Flu shots" in client.get("/dashboard/broadcasts").text


def test_audience_helper_schedule_and_bad_input(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    residents(chat)
    csrf = sign_in(client, make_user(runtime, "admin"))
    form = {"csrf_token": csrf, "name": "Evening notice", "text.es": SPANISH, "audience": "language=es"}
    helped = client.post(
        "/dashboard/broadcasts/new", data={**form, "help_channel": "sms", "help_language": "fr", "action": "add_terms"}
    )
    assert 'name="audience" value="language=es,fr channel=sms"' in helped.text
    assert client.post("/dashboard/broadcasts/new", data={**form, "audience": "colour=blue"}).status_code == 400
    assert client.post("/dashboard/broadcasts/new", data={**form, "audience": "answered=nope"}).status_code == 400
    assert client.post("/dashboard/broadcasts/new", data={**form, "send_at": "2001-01-01T09:00"}).status_code == 400
    assert client.post("/dashboard/broadcasts/new", data={**form, "invite": "poll:nope"}).status_code == 400

    later = (runtime.clock.now() + timedelta(days=2)).astimezone(ZoneInfo("UTC")).replace(second=0, microsecond=0)
    scheduled = client.post(
        "/dashboard/broadcasts/new",
        data={**form, "send_at": later.strftime("%Y-%m-%dT%H:%M"), "urgent": "1", "action": "send", "confirmed": "1"},
        follow_redirects=False,
    )
    assert scheduled.status_code == 303
    assert "1 messages scheduled." in client.get(scheduled.headers["location"]).text
    with runtime.db.transaction() as session:
        item = session.scalars(select(OutboxItem).where(OutboxItem.purpose.like(f"{PURPOSE_PREFIX}%"))).one()
        assert item.not_before == later and item.urgent is True and item.text == SPANISH
        assert session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("broadcast%"))).one() == (
            "broadcast.send.urgent"
        )
    assert client.get("/dashboard/broadcasts/999").status_code == 404
    assert client.get("/dashboard/broadcasts/abc").status_code == 404
    assert client.get("/dashboard/broadcasts/99999999999999999999").status_code == 404
    assert client.post("/dashboard/broadcasts/new", data={**form, "send_at": "9999-12-31T23:59"}).status_code == 400


def test_partners_send_only_to_shared_audiences_and_never_urgent(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    residents(chat)
    csrf = sign_in(client, make_user(runtime, "partner", organization="Eastside Promotoras"))
    form = {"csrf_token": csrf, "name": "Promotoras", "text.es": SPANISH, "audience": "language=es"}
    assert client.post("/dashboard/broadcasts/new", data={**form, "action": "preview"}).status_code == 403
    assert client.post("/dashboard/broadcasts/new", data={**form, "action": "send"}).status_code == 403
    with runtime.db.transaction() as session:
        organization = session.scalars(select(Organization)).one()
        sharing.share(session, organization.id, "audience", "language=es", runtime.clock.now())
    page = client.get("/dashboard/broadcasts/new").text
    assert '<option value="language=es"' in page and 'name="urgent"' not in page
    preview = client.post("/dashboard/broadcasts/new", data={**form, "action": "preview"})
    assert preview.status_code == 200 and 'id="preview-total">1<' in preview.text
    urgent = client.post("/dashboard/broadcasts/new", data={**form, "urgent": "1", "action": "send"})
    assert urgent.status_code == 403 and queued(runtime) == 0
    other = client.post("/dashboard/broadcasts/new", data={**form, "audience": "language=es,en", "action": "send"})
    assert other.status_code == 403 and queued(runtime) == 0
    sent = client.post(
        "/dashboard/broadcasts/new", data={**form, "action": "send", "confirmed": "1"}, follow_redirects=False
    )
    assert sent.status_code == 303 and queued(runtime) == 1
    assert client.get(sent.headers["location"]).status_code == 200


def test_viewers_cannot_open_broadcasts(client: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(client, make_user(runtime, "viewer"))
    assert client.get("/dashboard/broadcasts").status_code == 403
    assert client.get("/dashboard/broadcasts/new").status_code == 403
    data = {"csrf_token": csrf, "name": "x", "text.en": PLAIN, "action": "send"}
    assert client.post("/dashboard/broadcasts/new", data=data).status_code == 403
    assert queued(runtime) == 0
