"""The inbox pages through the real app: filters, one item's triage with reasons, bulk actions, replies, CSV,
and who may see or change what (partners only what is shared with them, viewers read-only)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import insert, select
from starlette.testclient import TestClient

from bot.engagement.feedback import export, triage
from bot.messages import Channel
from bot.runtime import Runtime
from bot.staff import sharing
from bot.store.engagement import AuditEvent, InputItem
from bot.store.models import OutboxItem, Resident
from bot.store.staff import Organization
from tests.support.chat import Chat
from tests.support.staff import api_token, make_user, sign_in
from tests.support.voices import give_feedback, join

SPANISH, ENGLISH = "+14155550601", "+14155550602"
_REFS = re.compile(r'href="/dashboard/inbox/(\d+)"')


def seed(chat: Callable[..., Chat]) -> dict[str, int]:
    """Two residents, three items: Spanish feedback (may contact), English feedback (may not), a later English one."""
    spanish = join(chat, Channel.SMS, SPANISH, "es", area="94110")
    english = join(chat, Channel.SMS, ENGLISH, "en")
    return {
        "es": give_feedback(spanish, "es", "Necesitamos intérpretes en la clínica", may_contact=True),
        "en": give_feedback(english, "en", "The park needs lights", may_contact=False),
        "formula": give_feedback(english, "en", "=HYPERLINK(evil) lights please", may_contact=False),
    }


def listed(client: TestClient, query: str = "") -> list[int]:
    response = client.get(f"/dashboard/inbox{query}")
    assert response.status_code == 200, response.text
    return [int(ref) for ref in _REFS.findall(response.text)]


def item(runtime: Runtime, ref: int) -> InputItem:
    with runtime.db.transaction() as session:
        found = triage.find_item(session, ref)
        session.expunge(found)
        return found


def test_the_list_is_newest_first_and_filters_combine(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    refs = seed(chat)
    with runtime.db.transaction() as session:  # the first item arrived a day earlier
        triage.find_item(session, refs["es"]).created_at -= timedelta(days=1)
    sign_in(client, make_user(runtime, "staff"))
    page = client.get("/dashboard/inbox").text
    assert listed(client) == [refs["formula"], refs["en"], refs["es"]]
    assert 'class="user-text inbox-text" dir="auto">Necesitamos intérpretes' in page
    assert "Resident #" in page and SPANISH not in page and ENGLISH not in page
    assert listed(client, "?language=es") == [refs["es"]]
    assert listed(client, "?area=94110&status=received") == [refs["es"]]
    assert listed(client, "?q=LIGHTS") == [refs["formula"], refs["en"]]
    assert listed(client, f"?q=%23{refs['en']}") == [refs["en"]]
    assert listed(client, "?kind=poll") == []
    today = runtime.clock.now().date().isoformat()
    assert listed(client, f"?from={today}") == [refs["formula"], refs["en"]]
    assert listed(client, f"?to={(runtime.clock.now() - timedelta(days=1)).date().isoformat()}") == [refs["es"]]
    for bad in ("?status=done", "?from=yesterday", "?page=0", "?language=klingon"):
        response = client.get(f"/dashboard/inbox{bad}")
        assert response.status_code == 400, bad
    assert client.get("/dashboard/inbox/99999999999999").status_code == 404


def test_status_tags_topic_assignment_and_publishing_from_the_item_page(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    refs = seed(chat)
    ref = refs["es"]
    email = make_user(runtime, "staff")
    csrf = sign_in(client, email)
    page = client.get(f"/dashboard/inbox/{ref}")
    assert page.status_code == 200
    assert "Necesitamos intérpretes en la clínica" in page.text and SPANISH in page.text  # staff may see numbers

    def post(action: str, **data: str | list[str]) -> int:
        response = client.post(f"/dashboard/inbox/{ref}/{action}", data={"csrf_token": csrf, **data})
        return response.status_code

    assert post("status", status="under_review", reason="") == 400
    assert post("status", status="acted_on", reason="too soon") == 400
    assert post("status", status="under_review", reason="Asked the clinic") == 200
    assert post("status", status="acted_on", reason="Interpreters hired") == 200
    assert post("tags", add="Language access, urgent") == 200
    assert post("tags", remove=["urgent"]) == 200
    assert post("topic", topic="health_services") == 200
    with runtime.db.transaction() as session:
        from bot.store.staff import User

        user_id = session.scalars(select(User.id).where(User.email == email)).one()
    assert post("assign", user=str(user_id)) == 200
    assert post("assign", user="987654") == 400
    assert post("publishable", publishable="1") == 200
    found = item(runtime, ref)
    assert (found.status, found.tags, found.topic, found.assigned_to_id, found.publishable) == (
        "acted_on",
        ["language-access"],
        "health_services",
        user_id,
        True,
    )
    page = client.get(f"/dashboard/inbox/{ref}").text
    assert "Asked the clinic" in page and "Interpreters hired" in page
    assert listed(client, "?tag=language-access") == [ref]
    assert listed(client, "?mine=1") == [ref]
    with runtime.db.transaction() as session:
        actions = [a.action for a in session.scalars(select(AuditEvent).where(AuditEvent.subject == f"item:{ref}"))]
    assert actions.count("item.status") == 2 and "item.assign" in actions and "item.publishable" in actions


def test_bulk_tag_and_status_with_a_reason(client: TestClient, runtime: Runtime, chat: Callable[..., Chat]) -> None:
    refs = seed(chat)
    csrf = sign_in(client, make_user(runtime, "staff"))
    chosen = [str(refs["en"]), str(refs["formula"])]
    back = "/dashboard/inbox?language=en"
    data = {"csrf_token": csrf, "ref": chosen, "action": "tag", "tag": "Parks", "back": back}
    response = client.post("/dashboard/inbox/bulk", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/inbox?language=en&done=2+of+2")
    assert listed(client, "?tag=parks") == [refs["formula"], refs["en"]]
    data = {"csrf_token": csrf, "ref": chosen, "action": "status", "status": "under_review", "reason": ""}
    assert client.post("/dashboard/inbox/bulk", data=data).status_code == 400
    data["reason"] = "Sent to Parks"
    assert client.post("/dashboard/inbox/bulk", data=data).status_code == 200
    data.update(status="acted_on", ref=[*chosen, str(refs["es"])], back="https://evil.example/")
    done = client.post("/dashboard/inbox/bulk", data=data, follow_redirects=False)
    assert done.headers["location"].startswith("/dashboard/inbox?done=2+of+3+items+changed.")
    assert [item(runtime, refs[k]).status for k in ("en", "formula", "es")] == ["acted_on", "acted_on", "received"]


def test_a_partner_sees_and_acts_only_on_what_is_shared(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    refs = seed(chat)
    csrf = sign_in(client, make_user(runtime, "partner", organization="Eastside Promotoras"))
    assert listed(client) == []
    with runtime.db.transaction() as session:
        org = session.scalars(select(Organization)).one()
        sharing.share(session, org.id, "item", str(refs["es"]), runtime.clock.now())
    assert listed(client) == [refs["es"]]
    page = client.get(f"/dashboard/inbox/{refs['es']}").text
    assert "Necesitamos intérpretes" in page and SPANISH not in page and "Addresses" not in page
    assert client.get(f"/dashboard/inbox/{refs['en']}").status_code == 404
    hidden = client.post(f"/dashboard/inbox/{refs['en']}/tags", data={"csrf_token": csrf, "add": "x"})
    assert hidden.status_code == 404
    data = {"csrf_token": csrf, "ref": [str(refs["en"]), str(refs["es"])], "action": "tag", "tag": "promotoras"}
    client.post("/dashboard/inbox/bulk", data=data)
    assert (item(runtime, refs["en"]).tags, item(runtime, refs["es"]).tags) == ([], ["promotoras"])
    exported = client.get("/dashboard/inbox.csv").text.lstrip("\ufeff")  # the byte-order mark spreadsheets need
    assert [row["ref"] for row in csv.DictReader(io.StringIO(exported))] == [str(refs["es"])]
    assert client.post(f"/dashboard/inbox/{refs['es']}/link", data={"csrf_token": csrf}).status_code == 403


def test_a_viewer_reads_but_cannot_change_anything(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    refs = seed(chat)
    csrf = sign_in(client, make_user(runtime, "viewer"))
    page = client.get(f"/dashboard/inbox/{refs['es']}")
    assert page.status_code == 200 and SPANISH not in page.text
    assert 'action="/dashboard/inbox/' not in page.text  # no forms at all
    for action, data in (("status", {"status": "under_review", "reason": "x"}), ("tags", {"add": "x"}), ("reply", {})):
        response = client.post(f"/dashboard/inbox/{refs['es']}/{action}", data={"csrf_token": csrf, **data})
        assert response.status_code == 403, action
    bulk = {"csrf_token": csrf, "ref": str(refs["es"]), "action": "tag", "tag": "x"}
    assert client.post("/dashboard/inbox/bulk", data=bulk).status_code == 403
    assert item(runtime, refs["es"]).status == "received"


def test_csv_export_keeps_the_filters_and_no_address(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    refs = seed(chat)
    sign_in(client, make_user(runtime, "staff"))
    response = client.get("/dashboard/inbox.csv?language=en")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [row["ref"] for row in rows] == [str(refs["formula"]), str(refs["en"])]
    assert rows[0]["text"] == "'=HYPERLINK(evil) lights please"  # a spreadsheet will not run it
    with runtime.db.transaction() as session:
        resident_id = session.scalars(select(Resident.id).order_by(Resident.id.desc())).first()
    assert rows[0]["resident_id"] == str(resident_id)
    assert ENGLISH not in response.text and SPANISH not in response.text


def test_a_reply_is_queued_on_the_residents_channel_only_if_they_agreed(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    refs = seed(chat)
    csrf = sign_in(client, make_user(runtime, "staff"))
    refused = client.get(f"/dashboard/inbox/{refs['en']}").text
    assert 'id="reply-refused"' in refused and "did not agree to be contacted" in refused
    response = client.post(f"/dashboard/inbox/{refs['en']}/reply", data={"csrf_token": csrf, "text": "Hello"})
    assert response.status_code == 400 and "did not agree to be contacted" in response.text
    response = client.post(
        f"/dashboard/inbox/{refs['es']}/reply", data={"csrf_token": csrf, "text": "¿Qué idiomas necesitan?"}
    )
    assert response.status_code == 200 and "queued on sms" in response.text
    with runtime.db.transaction() as session:
        rows = session.scalars(select(OutboxItem).where(OutboxItem.purpose == "staff_reply")).all()
        assert [(r.channel, r.address, r.idempotency_key) for r in rows] == [
            ("sms", SPANISH, f"staff-reply:{refs['es']}:1")
        ]
        assert rows[0].text == (
            f"Respuesta del equipo de Eastside Health Voices sobre el #{refs['es']}:\n¿Qué idiomas necesitan?"
        )
    assert (
        client.post(f"/dashboard/inbox/{refs['es']}/reply", data={"csrf_token": csrf, "text": " "}).status_code == 400
    )


def test_pages_of_fifty(client: TestClient, runtime: Runtime, chat: Callable[..., Chat]) -> None:
    join(chat, Channel.SMS, ENGLISH)
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        resident = session.scalars(select(Resident)).one()
        for n in range(55):
            session.add(
                InputItem(
                    ref=5000 + n,
                    kind="feedback",
                    resident_id=resident.id,
                    text=f"idea {n}",
                    may_contact=False,
                    status="received",
                    channel="sms",
                    locale="en",
                    tags=[],
                    created_at=now + timedelta(seconds=n),
                    updated_at=now,
                )
            )
    sign_in(client, make_user(runtime, "viewer"))
    first, second = listed(client), listed(client, "?page=2")
    assert (len(first), len(second)) == (50, 5)
    assert first[0] == 5054 and second[-1] == 5000
    assert "Page 2 of 2" in client.get("/dashboard/inbox?page=2").text


def test_what_a_joined_resident_says_outside_a_conversation_reaches_the_inbox(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    """Nothing said is lost: a message that is no keyword and no answer is an item triage sees, STATUS follows it,
    and a greeting or a thanks is not one."""
    resident = join(chat, Channel.SMS, SPANISH, "es")
    (reply,) = resident.texts("There is a strong gas smell on Folsom St near the school")
    found = re.search(r"#(\d+)", reply)
    assert found, reply
    ref = int(found.group(1))
    kept = item(runtime, ref)
    assert (kept.text, kept.kind, kept.status, kept.channel) == (
        "There is a strong gas smell on Folsom St near the school",
        "feedback",
        "received",
        "sms",
    )
    assert resident.texts("gracias") and resident.texts("hola")
    sign_in(client, make_user(runtime, "staff"))
    assert listed(client) == [ref]
    assert resident.texts(f"ESTADO {ref}") == [f"#{ref}: lo recibimos y lo revisaremos pronto."]
    assert resident.texts("ESTADO") == [f"#{ref}: lo recibimos y lo revisaremos pronto."]


def test_a_number_after_a_long_text_is_a_try_at_the_next_question_not_more_text(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    """A long SMS split by the carrier is joined again; a number that follows it answers (or misses) the question
    it was sent to, and is never glued onto the resident's words."""
    resident = join(chat, Channel.SMS, ENGLISH, "en")
    long_text = "The crossing by the school has no light and cars do not stop for the children who walk there " * 2
    resident.send("FEEDBACK")
    resident.send(long_text.strip())
    for number in ("7", "-1"):  # a third miss would move on
        (again,) = resident.texts(number)
        assert again.startswith("Sorry, I didn't understand."), again
    resident.send("skip")
    found = re.search(r"#(\d+)", resident.texts("no")[-1])
    assert found
    assert item(runtime, int(found.group(1))).text == long_text.strip()


def test_a_csv_export_of_many_pages_holds_every_item_once_newest_first(client: TestClient, runtime: Runtime) -> None:
    """The export is read and written a page at a time (export.PAGE_ROWS); pages meet without a gap or a repeat,
    also where several items share one time, through the dashboard and the API alike."""
    count = export.PAGE_ROWS * 2 + 7
    now = runtime.clock.now()
    rows = [
        {
            "ref": 100_000 + n,
            "kind": "feedback",
            "text": f"item {n}",
            "channel": "sms",
            "locale": "en",
            "status": "received",
            "tags": [],
            "may_contact": False,
            "publishable": False,
            "created_at": now - timedelta(seconds=n // 3),  # three items a second: ties across page ends
            "updated_at": now,
        }
        for n in range(count)
    ]
    with runtime.db.transaction() as session:
        session.execute(insert(InputItem), rows)
    email = make_user(runtime, "staff")
    sign_in(client, email)
    expected = [str(r["ref"]) for r in sorted(rows, key=lambda r: (r["created_at"], r["ref"]), reverse=True)]
    token = api_token(runtime, email)
    for response in (
        client.get("/dashboard/inbox.csv"),
        client.get("/api/v1/input-items?format=csv", headers={"Authorization": f"Bearer {token}"}),
    ):
        assert response.status_code == 200, response.text[:200]
        assert response.text.count("ref,kind,") == 1  # one header
        exported = [row["ref"] for row in csv.DictReader(io.StringIO(response.text.lstrip("\ufeff")))]
        assert exported == expected
