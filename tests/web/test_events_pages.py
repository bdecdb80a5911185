"""Event pages: create and edit per language in the event's time zone, RSVP counts, publish and cancel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.runtime import Runtime
from bot.store.engagement import AuditEvent, Event
from bot.store.models import OutboxItem
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.web.test_polls_pages import joined


def fair_form(runtime: Runtime, csrf: str) -> dict[str, str]:
    day = (runtime.clock.now() + timedelta(days=5)).astimezone(ZoneInfo("America/Los_Angeles")).date()
    return {
        "csrf_token": csrf,
        "slug": "flu-clinic",
        "fallback": "en",
        "timezone": "America/Los_Angeles",
        "starts": f"{day.isoformat()}T10:00",
        "ends": f"{day.isoformat()}T13:30",
        "capacity": "1",
        "publish": "1",
        "title.en": "Flu clinic",
        "title.es": "Clínica de gripe",
        "place.en": "Eastside Library",
        "place.es": "Biblioteca Eastside",
        "description.en": "Free flu shots for everyone.",
    }


def test_an_event_made_on_the_dashboard_takes_rsvps_like_any_other(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    email = make_user(runtime, "staff")
    csrf = sign_in(client, email)
    assert client.get("/dashboard/events/new").status_code == 200
    form = fair_form(runtime, csrf)
    created = client.post("/dashboard/events/new", data=form, follow_redirects=False)
    assert created.status_code == 303, created.text
    page = client.get(created.headers["location"]).text
    assert "Event saved." in page
    missing = page.split("Missing translations", 1)[1].split("<ul>", 1)[1].split("</section>", 1)[0]
    assert "Description" in missing and "Español (es)" in missing and "Français (fr)" in missing
    with runtime.db.transaction() as session:
        event = session.scalars(select(Event)).one()
        assert event.status == "published" and event.capacity == 1
        assert event.timezone == "America/Los_Angeles"
        assert event.starts_at.astimezone(ZoneInfo("America/Los_Angeles")).hour == 10
        assert event.title == {"en": "Flu clinic", "es": "Clínica de gripe", "*": "Flu clinic"}

    spanish = joined(chat, "+14155550101", "2", ("hola", "sí", "omitir"))
    listed = spanish.texts("EVENTOS")[0]
    assert "Clínica de gripe" in listed
    assert "Biblioteca Eastside" in spanish.texts("1")[0]  # where: with the question about the event
    assert "Clínica de gripe" in spanish.texts("sí")[0]
    french = joined(chat, "+14155550102", "6", ("Bonjour", "oui", "passer"))
    assert "Flu clinic" in french.texts("EVENEMENTS")[0]  # the fallback language's title
    french.send("1")
    assert "liste d'attente" in french.texts("oui")[0]
    english = joined(chat, "+14155550103", "1", ("hi", "yes", "skip"))
    english.send("EVENTS")
    english.send("1")
    english.send("maybe")

    page = client.get("/dashboard/events/flu-clinic").text
    assert 'id="rsvp-yes">1<' in page
    assert 'id="rsvp-waitlist">1<' in page
    assert 'id="rsvp-maybe">1<' in page
    assert 'id="rsvp-no">0<' in page
    assert "(0 places left)" in page

    edit = client.get("/dashboard/events/flu-clinic/edit").text
    assert 'value="Clínica de gripe"' in edit and f'value="{form["starts"]}"' in edit
    changed = {**form, "title.fr": "Clinique de la grippe", "capacity": "2"}
    del changed["slug"]
    assert client.post("/dashboard/events/flu-clinic/edit", data=changed).status_code == 200
    with runtime.db.transaction() as session:
        event = session.scalars(select(Event)).one()
        assert event.capacity == 2 and event.title["fr"] == "Clinique de la grippe"
    assert "Clinique de la grippe" in french.texts("EVENEMENTS")[0]

    cancelled = client.post("/dashboard/events/flu-clinic/status", data={"status": "cancelled", "csrf_token": csrf})
    assert "Event cancelled; 3 residents who said yes or maybe are being told." in cancelled.text
    assert "Flu clinic" not in english.texts("EVENTS")[0]
    with runtime.db.transaction() as session:
        told = {
            row.address: row.text
            for row in session.scalars(select(OutboxItem).where(OutboxItem.purpose.startswith("event-cancelled:")))
        }
    assert sorted(told) == ["+14155550101", "+14155550102", "+14155550103"]  # yes, waitlisted yes, maybe
    assert told["+14155550101"].startswith("Lo sentimos: Clínica de gripe (")
    assert told["+14155550102"].startswith("Désolé : Clinique de la grippe (")
    assert told["+14155550103"].startswith("Sorry: Flu clinic (") and "is cancelled" in told["+14155550103"]
    again = client.post("/dashboard/events/flu-clinic/status", data={"status": "cancelled", "csrf_token": csrf})
    assert "Event cancelled; 0 residents" in again.text
    with runtime.db.transaction() as session:
        audited = [
            (a.actor, a.action)
            for a in session.scalars(select(AuditEvent).where(AuditEvent.subject == "event:flu-clinic"))
        ]
    assert audited == [
        (f"user:{email}", "event.create"),
        (f"user:{email}", "event.update"),
        (f"user:{email}", "event.cancel"),
        (f"user:{email}", "event.cancel"),
    ]


def test_event_form_problems_and_drafts(client: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(client, make_user(runtime, "admin"))
    form = fair_form(runtime, csrf)
    bad = {
        **form,
        "ends": form["starts"].replace("T10:00", "T09:00"),
        "title.en": "",
        "capacity": "-3",
        "timezone": "Mars/Olympus",
    }
    response = client.post("/dashboard/events/new", data=bad)
    assert response.status_code == 400
    for problem in ("must end after it starts", "Write the title in English (en)", "capacity must be", "time zone"):
        assert problem in response.text
    assert 'value="Clínica de gripe"' in response.text
    for starts in ("tomorrow", "0001-01-01T00:00", "2026-01-01T10:00+02:00"):
        assert client.post("/dashboard/events/new", data={**form, "starts": starts}).status_code == 400

    draft = {k: v for k, v in form.items() if k not in ("publish", "description.en", "ends", "capacity")}
    assert client.post("/dashboard/events/new", data=draft, follow_redirects=False).status_code == 303
    with runtime.db.transaction() as session:
        event = session.scalars(select(Event)).one()
        assert (event.status, event.description, event.capacity) == ("draft", {}, None)
        assert event.ends_at - event.starts_at == timedelta(hours=2)
    published = client.post("/dashboard/events/flu-clinic/status", data={"status": "published", "csrf_token": csrf})
    assert "Event published." in published.text
    assert client.post("/dashboard/events/new", data=form).status_code == 400  # the short name is taken
    assert client.get("/dashboard/events/nope").status_code == 404
    assert (
        client.post("/dashboard/events/flu-clinic/status", data={"status": "x", "csrf_token": csrf}).status_code == 400
    )


def test_viewers_and_partners_only_read_events(client: TestClient, runtime: Runtime) -> None:
    staff = TestClient(client.app)
    staff_csrf = sign_in(staff, make_user(runtime, "staff"))
    assert staff.post("/dashboard/events/new", data=fair_form(runtime, staff_csrf)).status_code == 200
    for role in ("viewer", "partner"):
        reader = TestClient(client.app)
        csrf = sign_in(reader, make_user(runtime, role))
        assert reader.get("/dashboard/events").status_code == 200
        assert "Flu clinic" in reader.get("/dashboard/events/flu-clinic").text
        assert reader.get("/dashboard/events/new").status_code == 403
        for path in (
            "/dashboard/events/new",
            "/dashboard/events/flu-clinic/edit",
            "/dashboard/events/flu-clinic/status",
        ):
            assert reader.post(path, data={**fair_form(runtime, csrf), "status": "cancelled"}).status_code == 403
    with runtime.db.transaction() as session:
        assert session.scalars(select(Event.status)).one() == "published"


def test_an_absurd_capacity_is_refused_not_cut_short(client: TestClient, runtime: Runtime) -> None:
    form = fair_form(runtime, sign_in(client, make_user(runtime, "admin")))
    for capacity in ("99999999999999999999", "3000000000"):
        response = client.post("/dashboard/events/new", data={**form, "capacity": capacity})
        assert response.status_code == 400 and "capacity must be" in response.text, (capacity, response.status_code)
    with runtime.db.transaction() as session:
        assert session.scalars(select(Event)).first() is None


def test_the_event_list_is_soonest_first_then_those_that_ended(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    from bot.conversation.flows.loader import read_document
    from bot.engagement.events.calendar import load_event, moved_to_offset
    from tests.test_events import DEMO

    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        for slug, days in (("later", 20), ("ended", -10), ("soon", 2), ("ended-long-ago", -40)):
            document = moved_to_offset(read_document(DEMO / "town-hall.yaml"), now, days)
            load_event(session, {**document, "slug": slug}, now)
    sign_in(client, make_user(runtime, "staff"))
    page = client.get("/dashboard/events").text
    order = [slug for slug in ("soon", "later", "ended", "ended-long-ago") if f"/dashboard/events/{slug}" in page]
    assert sorted(order, key=lambda slug: page.index(f'/dashboard/events/{slug}"')) == [
        "soon",
        "later",
        "ended",
        "ended-long-ago",
    ]
