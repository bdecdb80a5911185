"""The WhatsApp templates page (register, replace, remove, audited; refused to partners and viewers; errors beside the
form) and the broadcast preview's 24-hour window table, which refuses a send until a template is registered."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select, update
from starlette.testclient import TestClient

from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import AuditEvent
from bot.store.models import Message
from bot.store.whatsapp import WhatsAppTemplate
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.web.test_broadcasts_pages import row_text

VI_TEMPLATE = "HX" + "7e" * 16


def join_on_whatsapp(chat: Callable[..., Chat], number: str) -> None:
    """A Vietnamese speaker who joined on WhatsApp (the menu's number for Tiếng Việt, then yes, then skip)."""
    resident = chat(Channel.WHATSAPP, number)
    menu = resident.send("Xin chào, cho tôi hỏi về lịch tiêm chủng")[0].text
    found = re.search(r"(\d+) Tiếng Việt", menu)
    assert found is not None, menu
    resident.send(found.group(1))
    resident.send("có")
    resident.send("bỏ qua")


def test_staff_register_replace_and_remove_templates(client: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(client, make_user(runtime, "staff"))
    page = client.get("/dashboard/whatsapp")
    assert page.status_code == 200 and "None yet" in page.text
    form = {"csrf_token": csrf, "purpose": "broadcast", "locale": "vi", "buttons": "1", "label": "tin_tuc_vi"}
    bad = client.post("/dashboard/whatsapp/add", data={**form, "content_sid": "HX123"})
    assert bad.status_code == 400 and 'id="add-error"' in bad.text and 'value="HX123"' in bad.text
    added = client.post("/dashboard/whatsapp/add", data={**form, "content_sid": VI_TEMPLATE}, follow_redirects=True)
    assert f"{VI_TEMPLATE} registered." in added.text and "tin_tuc_vi" in added.text
    other = "HX" + "8f" * 16
    client.post("/dashboard/whatsapp/add", data={**form, "content_sid": other})  # the same purpose and language
    with runtime.db.transaction() as session:
        (row,) = session.scalars(select(WhatsAppTemplate)).all()
        assert (row.purpose, row.locale, row.buttons, row.content_sid) == ("broadcast", "vi", 0, other)
        template_id = row.id
    buttons = client.post(
        "/dashboard/whatsapp/add", data={**form, "purpose": "buttons", "buttons": "4", "content_sid": other}
    )
    assert buttons.status_code == 400 and "1, 2 or 3 buttons" in buttons.text
    listed = client.post(
        "/dashboard/whatsapp/add", data={**form, "purpose": "list", "buttons": "3", "content_sid": other}
    )
    assert listed.status_code == 400 and "4 to 10 items" in listed.text
    removed = client.post(f"/dashboard/whatsapp/{template_id}/remove", data={"csrf_token": csrf}, follow_redirects=True)
    assert "Template removed." in removed.text and "None yet" in removed.text
    assert client.post("/dashboard/whatsapp/99999/remove", data={"csrf_token": csrf}).status_code == 404
    with runtime.db.transaction() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("whatsapp.%"))).all()
        assert actions == ["whatsapp.template.register", "whatsapp.template.register", "whatsapp.template.remove"]
    for role in ("partner", "viewer"):
        other_client = TestClient(client.app)
        sign_in(other_client, make_user(runtime, role, f"{role}@example.org"))
        assert other_client.get("/dashboard/whatsapp").status_code == 403


def test_the_preview_shows_the_window_and_a_send_waits_for_a_template(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    join_on_whatsapp(chat, "+84901230001")
    join_on_whatsapp(chat, "+84901230002")
    with runtime.db.transaction() as session:  # the first resident last wrote two days ago
        session.execute(
            update(Message)
            .where(Message.address == "+84901230001")
            .values(created_at=runtime.clock.now() - timedelta(days=2))
        )
    csrf = sign_in(client, make_user(runtime, "staff"))
    form = {"csrf_token": csrf, "name": "Clinic", "text.vi": "Phòng khám mở cửa lúc 9 giờ.", "audience": ""}
    shown = client.post("/dashboard/broadcasts/new", data={**form, "action": "preview"})
    assert (
        row_text(shown.text, "preview-whatsapp-vi") == "Tiếng Việt (vi) 1 1 None registered: these 1 cannot be reached"
    )
    assert 'id="preview-whatsapp-missing"' in shown.text
    refused = client.post("/dashboard/broadcasts/new", data={**form, "action": "send", "confirmed": "1"})
    assert refused.status_code == 400 and "outside the 24-hour window" in refused.text

    client.post(
        "/dashboard/whatsapp/add",
        data={"csrf_token": csrf, "purpose": "update", "locale": "vi", "content_sid": VI_TEMPLATE, "label": ""},
    )
    shown = client.post("/dashboard/broadcasts/new", data={**form, "action": "preview"})
    assert row_text(shown.text, "preview-whatsapp-vi") == f"Tiếng Việt (vi) 1 1 {VI_TEMPLATE}"
    assert 'id="preview-whatsapp-missing"' not in shown.text
    sent = client.post(
        "/dashboard/broadcasts/new", data={**form, "action": "send", "confirmed": "1"}, follow_redirects=False
    )
    assert sent.status_code == 303, sent.text
