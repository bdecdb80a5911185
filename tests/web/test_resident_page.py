"""A resident's page: staff see their addresses, consent history, contributions and messages; an admin answers a
data-access request (JSON download) or an erasure request (the id typed again to confirm); both audited."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.engagement.residents import privacy
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import AuditEvent, InputItem
from bot.store.models import Resident
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.support.voices import give_feedback, join

NUMBER = "+14155550177"


def _resident(runtime: Runtime, chat: Callable[..., Chat]) -> tuple[int, int]:
    resident = join(chat, Channel.SMS, NUMBER, "es", area="94110")
    ref = give_feedback(resident, "es", "Más bancas con sombra, por favor", may_contact=True)
    with runtime.db.transaction() as session:
        return session.scalars(select(Resident.id)).one(), ref


def test_staff_see_a_resident_and_reach_it_from_the_inbox(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    resident_id, ref = _resident(runtime, chat)
    sign_in(client, make_user(runtime, "staff"))
    item = client.get(f"/dashboard/inbox/{ref}").text
    assert f'href="/dashboard/residents/{resident_id}"' in item
    page = client.get(f"/dashboard/residents/{resident_id}")
    assert page.status_code == 200
    assert NUMBER in page.text and "Más bancas con sombra, por favor" in page.text and "granted" in page.text
    assert "Erase this resident" not in page.text  # staff may not: admins answer data requests
    assert client.get(f"/dashboard/residents/{resident_id}/export.json").status_code == 403
    assert client.get("/dashboard/residents/999999").status_code == 404


def test_partners_and_viewers_get_no_link_and_no_page(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    resident_id, ref = _resident(runtime, chat)
    sign_in(client, make_user(runtime, "viewer"))
    assert f"/dashboard/residents/{resident_id}" not in client.get(f"/dashboard/inbox/{ref}").text
    assert client.get(f"/dashboard/residents/{resident_id}").status_code == 403


def test_admin_exports_then_erases_a_resident(client: TestClient, runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident_id, ref = _resident(runtime, chat)
    csrf = sign_in(client, make_user(runtime, "admin"))
    exported = client.get(f"/dashboard/residents/{resident_id}/export.json")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    data = json.loads(exported.text)
    assert data["addresses"][0]["value"] == NUMBER and data["input"][0]["ref"] == ref

    wrong = client.post(f"/dashboard/residents/{resident_id}/erase", data={"csrf_token": csrf, "confirm": "12"})
    assert wrong.status_code == 400
    erased = client.post(
        f"/dashboard/residents/{resident_id}/erase",
        data={"csrf_token": csrf, "confirm": str(resident_id)},
        follow_redirects=False,
    )
    assert erased.status_code == 303
    assert client.get(f"/dashboard/residents/{resident_id}").status_code == 404
    with runtime.db.transaction() as session:
        assert session.get(Resident, resident_id) is None
        item = session.scalars(select(InputItem).where(InputItem.ref == ref)).one()
        assert item.text == privacy.ERASED_TEXT and item.resident_id is None
        actions = list(
            session.scalars(select(AuditEvent.action).where(AuditEvent.subject == f"resident:{resident_id}"))
        )
    assert actions == ["resident.export", "resident.erase"]
    assert NUMBER not in client.get(f"/dashboard/inbox/{ref}").text
