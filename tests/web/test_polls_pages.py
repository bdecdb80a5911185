"""Poll pages: authoring per language, missing translations, open/close, results by language, CSV and sharing."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import AuditEvent, Poll
from bot.store.models import FlowVersion
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

PARKS_FORM = {
    "slug": "parks",
    "fallback": "en",
    "title.en": "Parks survey",
    "title.es": "Encuesta de parques",
    "keyword.en": "PARKS",
    "keyword.es": "PARQUES",
    "question_count": "2",
    "q0.kind": "single",
    "q0.id": "need",
    "q0.text.en": "What do parks need most?",
    "q0.text.es": "¿Qué necesitan más los parques?",
    "q0.option_count": "2",
    "q0.o0.label.en": "More trees",
    "q0.o0.label.es": "Más árboles",
    "q0.o1.label.en": "More benches",
    "q0.o1.label.es": "Más bancas",
    "q1.kind": "text",
    "q1.optional": "1",
    "q1.text.en": "Anything else?",
    "q1.text.es": "¿Algo más?",
    "q1.option_count": "2",
    "thanks.en": "Thanks for helping plan our parks!",
    "thanks.es": "¡Gracias por ayudar a planear los parques!",
}


def joined(chat: Callable[..., Chat], number: str, language: str, words: tuple[str, str, str]) -> Chat:
    """A resident who chose a language from the menu, joined and skipped the area question."""
    hello, yes, skip = words
    resident = chat(Channel.SMS, number)
    resident.send(hello)
    resident.send(language)
    resident.send(yes)
    resident.send(skip)
    return resident


def create_parks_poll(client: TestClient, csrf: str) -> None:
    response = client.post("/dashboard/polls/new", data={**PARKS_FORM, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/dashboard/polls/parks?done=")


def actions(runtime: Runtime) -> list[tuple[str, str, str]]:
    with runtime.db.transaction() as session:
        return [(a.actor, a.action, a.subject) for a in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def breakdown_row(page: str, table_id: str, group: str) -> str:
    table = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = [row for row in table.split("<tr>") if f">{group}</th>" in row]
    assert rows, f"no row {group!r} in {table_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", rows[0])).strip()


def test_a_poll_written_in_two_languages_reaches_every_resident(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    staff = make_user(runtime, "staff")
    csrf = sign_in(client, staff)
    assert client.get("/dashboard/polls/new").status_code == 200
    create_parks_poll(client, csrf)

    page = client.get("/dashboard/polls/parks").text
    missing = page.split("Missing translations", 1)[1].split("<ul>", 1)[1].split("</section>", 1)[0]
    for language in ("中文 (zh_Hans)", "Tiếng Việt (vi)", "\u2068العربية\u2069 (ar)", "Français (fr)"):
        assert language in missing
    assert "Español (es)" not in missing and "English (en)" not in missing
    # Before opening: one short line per language (a count and the first two texts), not every text spelled out.
    before = page.split('<ul id="before-you-open">', 1)[1].split("</ul>", 1)[0]
    lines = re.findall(r"<li>(.*?)</li>", before, re.S)
    assert len(lines) == 4 and lines[1].startswith("Tiếng Việt (vi): ") and all(len(line) < 200 for line in lines)
    assert "read English (en) instead" in page
    # A draft has no results yet: no empty tables, no download.
    assert 'id="no-results-yet"' in page and "results.csv" not in page and '<table class="breakdown"' not in page
    with runtime.db.transaction() as session:
        poll = session.scalars(select(Poll).where(Poll.slug == "parks")).one()
        assert poll.status == "draft" and poll.document is not None
        assert poll.document["fallback_language"] == "en"
        assert set(poll.document["title"]) == {"en", "es"}
        assert [o["value"] for o in poll.document["questions"][0]["options"]] == ["more_trees", "more_benches"]

    opened = client.post("/dashboard/polls/parks/status", data={"status": "open", "csrf_token": csrf})
    assert opened.status_code == 200 and "Poll opened." in opened.text
    assert (f"user:{staff}", "poll.open", "poll:parks") in actions(runtime)

    spanish = joined(chat, "+14155550101", "2", ("hola", "sí", "omitir"))
    asked = spanish.texts("PARQUES")
    assert asked[0].startswith("¿Qué necesitan más los parques?\n1 Más árboles\n2 Más bancas")
    assert spanish.texts("1") == ["¿Algo más?"]
    assert spanish.texts("Más sombra, por favor") == ["¡Gracias por ayudar a planear los parques!"]

    french = joined(chat, "+14155550102", "6", ("Bonjour", "oui", "passer"))
    asked = french.texts("POLL")
    assert asked[0].startswith("What do parks need most?\n1 More trees\n2 More benches"), asked
    assert french.texts("2") == ["Anything else?"]
    assert french.texts("passer") == ["Thanks for helping plan our parks!"]

    page = client.get("/dashboard/polls/parks").text
    assert 'id="respondents">2<' in page
    assert breakdown_row(page, "q-need-locale", "Español (es)") == "Español (es) 1 1 (100.0%) 0 (0.0%)"
    assert breakdown_row(page, "q-need-locale", "Français (fr)") == "Français (fr) 1 0 (0.0%) 1 (100.0%)"
    assert breakdown_row(page, "q-need-channel", "sms") == "sms 2 1 (50.0%) 1 (50.0%)"
    assert 'role="img" aria-labelledby="chart-need-title chart-need-desc"' in page
    assert "Más sombra" not in page  # open text stays in the inbox
    assert 'href="/dashboard/inbox?poll=parks"' in page

    closed = client.post("/dashboard/polls/parks/status", data={"status": "closed", "csrf_token": csrf})
    assert "Poll closed." in closed.text
    reopened = client.post("/dashboard/polls/parks/status", data={"status": "open", "csrf_token": csrf})
    assert "Poll reopened." in reopened.text
    assert [a for _actor, a, subject in actions(runtime) if subject == "poll:parks"] == [
        "poll.create",
        "poll.open",
        "poll.close",
        "poll.open",
    ]


def test_the_form_grows_without_javascript_and_keeps_what_was_typed(client: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(client, make_user(runtime, "staff"))
    grown = client.post("/dashboard/polls/new", data={**PARKS_FORM, "csrf_token": csrf, "action": "add_question"})
    assert grown.status_code == 200
    assert 'name="question_count" value="3"' in grown.text
    assert 'value="Más bancas"' in grown.text
    assert "Question 3" in grown.text
    more = client.post("/dashboard/polls/new", data={**PARKS_FORM, "csrf_token": csrf, "action": "add_option:0"})
    assert 'name="q0.option_count" value="3"' in more.text
    assert 'id="q0.o2.label.en"' in more.text
    with runtime.db.transaction() as session:
        assert session.scalars(select(Poll)).first() is None  # growing the form saves nothing


def test_problems_are_named_and_nothing_is_saved(client: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(client, make_user(runtime, "staff"))
    form = {**PARKS_FORM, "csrf_token": csrf, "fallback": "es", "slug": "Bad Slug!", "thanks.es": ""}
    del form["q0.o1.label.es"]
    form["q0.o1.label.fr"] = "Plus de bancs"
    form["q0.o1.label.en"] = ""
    form["keyword.en"] = "STOP"
    response = client.post("/dashboard/polls/new", data=form)
    assert response.status_code == 400
    text = response.text
    assert "The short name must be" in text
    assert "Question 1 (need), option plus_de_bancs" in text and "Español (es), the fallback language" in text
    assert "Thank-you message" in text
    assert "a word the bot already answers" in text
    assert 'value="Plus de bancs"' in text  # what was typed is kept
    with runtime.db.transaction() as session:
        assert session.scalars(select(Poll)).first() is None


def test_editing_an_open_poll_makes_a_new_version_and_residents_keep_theirs(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    staff = make_user(runtime, "admin")
    csrf = sign_in(client, staff)
    create_parks_poll(client, csrf)
    client.post("/dashboard/polls/parks/status", data={"status": "open", "csrf_token": csrf})
    early = joined(chat, "+14155550103", "1", ("hi", "yes", "skip"))
    assert early.texts("PARKS")[0].startswith("What do parks need most?")

    form = client.get("/dashboard/polls/parks/edit").text
    assert 'value="Más árboles"' in form and 'value="more_trees"' in form
    edited = {**PARKS_FORM, "csrf_token": csrf, "q0.text.en": "What should parks get first?", "area_results": "1"}
    del edited["slug"]
    response = client.post("/dashboard/polls/parks/edit", data=edited, follow_redirects=False)
    assert response.status_code == 303
    with runtime.db.transaction() as session:
        versions = session.scalars(select(FlowVersion.version).where(FlowVersion.slug == "poll-parks")).all()
        assert sorted(versions) == [1, 2]
        assert session.scalars(select(Poll)).one().area_results is True
    assert early.texts("1") == ["Anything else?"]  # the version they started
    late = joined(chat, "+14155550104", "1", ("hi", "yes", "skip"))
    assert late.texts("PARKS")[0].startswith("What should parks get first?")
    assert ("user:" + staff, "poll.update", "poll:parks") in actions(runtime)


def test_csv_export_and_sharing_with_a_partner(client: TestClient, runtime: Runtime) -> None:
    staff_email = make_user(runtime, "staff")
    partner_email = make_user(runtime, "partner", organization="Eastside Promotoras")
    csrf = sign_in(client, staff_email)
    create_parks_poll(client, csrf)
    export = client.get("/dashboard/polls/parks/results.csv")
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.text.lstrip("\ufeff").splitlines()[0] == "question,dimension,group,option,count,percent,points"

    partner = TestClient(client.app)
    sign_in(partner, partner_email)
    assert partner.get("/dashboard/polls/parks/results.csv").status_code == 403
    assert partner.get("/dashboard/polls/parks").status_code == 403
    assert "parks" not in partner.get("/dashboard/polls").text

    page = client.get("/dashboard/polls/parks").text
    organization = re.search(r'<option value="(\d+)">Eastside Promotoras</option>', page)
    assert organization
    shared = client.post(
        "/dashboard/polls/parks/share", data={"organization_id": organization.group(1), "csrf_token": csrf}
    )
    assert "Shared with Eastside Promotoras." in shared.text
    assert partner.get("/dashboard/polls/parks/results.csv").status_code == 200
    listed = partner.get("/dashboard/polls").text
    assert 'href="/dashboard/polls/parks"' in listed
    partner_page = partner.get("/dashboard/polls/parks").text
    assert "Open the poll" not in partner_page and "/share" not in partner_page

    client.post("/dashboard/polls/parks/unshare", data={"organization_id": organization.group(1), "csrf_token": csrf})
    assert partner.get("/dashboard/polls/parks/results.csv").status_code == 403
    assert [a for _actor, a, _subject in actions(runtime) if a.startswith("poll.")][-2:] == [
        "poll.share",
        "poll.unshare",
    ]


def test_a_viewer_reads_but_every_post_is_refused(client: TestClient, runtime: Runtime) -> None:
    staff = TestClient(client.app)
    create_parks_poll(staff, sign_in(staff, make_user(runtime, "staff")))
    csrf = sign_in(client, make_user(runtime, "viewer"))
    assert client.get("/dashboard/polls").status_code == 200
    assert client.get("/dashboard/polls/parks").status_code == 200
    assert client.get("/dashboard/polls/parks/results.csv").status_code == 200
    assert client.get("/dashboard/polls/new").status_code == 403
    assert client.get("/dashboard/polls/parks/edit").status_code == 403
    for path, data in (
        ("/dashboard/polls/new", PARKS_FORM),
        ("/dashboard/polls/parks/edit", PARKS_FORM),
        ("/dashboard/polls/parks/status", {"status": "open"}),
        ("/dashboard/polls/parks/share", {"organization_id": "1"}),
        ("/dashboard/polls/parks/unshare", {"organization_id": "1"}),
    ):
        assert client.post(path, data={**data, "csrf_token": csrf}).status_code == 403, path
    with runtime.db.transaction() as session:
        assert session.scalars(select(Poll)).one().status == "draft"


def test_bad_requests_get_clear_answers(client: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(client, make_user(runtime, "staff"))
    assert client.get("/dashboard/polls/nope").status_code == 404
    assert client.get("/dashboard/polls/nope/results.csv").status_code == 404
    assert client.post("/dashboard/polls/nope/status", data={"status": "open", "csrf_token": csrf}).status_code == 404
    create_parks_poll(client, csrf)
    assert client.post("/dashboard/polls/parks/status", data={"status": "gone", "csrf_token": csrf}).status_code == 400
    for organization in ("x", "99999999999999999999", "4242"):
        shared = client.post("/dashboard/polls/parks/share", data={"organization_id": organization, "csrf_token": csrf})
        assert shared.status_code == 400
    assert client.post("/dashboard/polls/new", data={"csrf_token": csrf, "question_count": "9999"}).status_code == 400
    duplicate = client.post("/dashboard/polls/new", data={**PARKS_FORM, "csrf_token": csrf})
    assert duplicate.status_code == 400 and "already exists" in duplicate.text


def test_a_poll_written_only_in_spanish_falls_back_to_spanish(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    csrf = sign_in(client, make_user(runtime, "staff"))
    spanish_only = {k: v for k, v in PARKS_FORM.items() if not k.endswith(".en")}
    created = client.post(
        "/dashboard/polls/new", data={**spanish_only, "fallback": "", "csrf_token": csrf}, follow_redirects=False
    )
    assert created.status_code == 303, created.text
    client.post("/dashboard/polls/parks/status", data={"status": "open", "csrf_token": csrf})
    english = joined(chat, "+14155550105", "1", ("hi", "yes", "skip"))
    assert english.texts("POLL")[0].startswith("¿Qué necesitan más los parques?\n1 Más árboles")
    english.send("1")
    page = client.get("/dashboard/polls/parks").text
    assert "Question 1: <span" in page and "¿Qué necesitan más los parques?</span>" in page
    assert "read the Español (es) text instead" in page
    assert breakdown_row(page, "q-need-locale", "English (en)") == "English (en) 1 1 (100.0%) 0 (0.0%)"
