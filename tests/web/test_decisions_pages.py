"""Decision pages through the real app: write per language, link items and polls, preview, confirm, publish once."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.cli.processes import startup_line
from bot.messages import Channel
from bot.runtime import Runtime
from bot.settings import load_settings
from bot.staff import sharing
from bot.store.engagement import InputItem
from bot.store.models import OutboxItem
from bot.store.staff import Organization
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.support.voices import answer_demo_poll, give_feedback, join, open_demo_poll

FORM = {
    "slug": "evening-clinic",
    "decided_by": "County Health Department",
    "partners": "Eastside Promotoras, Library Friends",
    "title_en": "An evening clinic",
    "summary_en": "The Eastside clinic now opens until 8pm on Thursdays.",
    "changed_en": "Evening hours, because many of you work days.",
    "not_adopted_en": "Weekend hours: no staff yet.",
    "title_es": "Una clínica por la tarde",
    "summary_es": "La clínica del Eastside ahora abre hasta las 8 pm los jueves.",
}


def create(client: TestClient, csrf: str, **extra: str) -> str:
    response = client.post(
        "/dashboard/decisions/new", data={"csrf_token": csrf, **FORM, **extra}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].split("?")[0]


def outbox_notices(runtime: Runtime) -> list[OutboxItem]:
    with runtime.db.transaction() as session:
        rows = list(session.scalars(select(OutboxItem).where(OutboxItem.purpose.startswith("decision:"))))
        for row in rows:
            session.expunge(row)
        return rows


def test_write_link_preview_confirm_and_publish_once(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    spanish = join(chat, Channel.SMS, "+14155550701", "es")
    ref_es = give_feedback(spanish, "es", "La clínica cierra muy temprano", may_contact=False)
    english = join(chat, Channel.SMS, "+14155550702", "en", area="94110")
    ref_en = give_feedback(english, "en", "Open on weekends please", may_contact=True)
    open_demo_poll(runtime)
    answer_demo_poll(english, "1")
    csrf = sign_in(client, make_user(runtime, "staff"))
    missing = client.post("/dashboard/decisions/new", data={"csrf_token": csrf, "title_es": "Sólo español"})
    assert missing.status_code == 400 and "default language (en)" in missing.text
    assert 'value="Sólo español"' in missing.text  # what was typed is kept
    page_url = create(client, csrf)
    assert page_url == "/dashboard/decisions/evening-clinic"
    assert client.post("/dashboard/decisions/new", data={"csrf_token": csrf, **FORM}).status_code == 400  # slug taken

    def post(path: str, **data: str) -> int:
        return client.post(f"{page_url}/{path}", data={"csrf_token": csrf, **data}).status_code

    assert post("items", refs="12ab") == 400
    assert post("items", refs="999999") == 400
    assert post("items", refs=f"#{ref_es}", outcome="acted_on") == 200
    linked = client.post(
        f"/dashboard/inbox/{ref_en}/link",
        data={"csrf_token": csrf, "decision": "evening-clinic", "outcome": "acted_on"},
    )
    assert linked.status_code == 200
    assert post("outcomes", **{f"outcome_{ref_en}": "not_adopted"}) == 200
    assert post("polls", poll="health-priorities") == 200
    assert post("polls", poll="no-such-poll") == 400
    page = client.get(page_url).text
    assert f"#{ref_es}" in page and f"#{ref_en}" in page and "health-priorities" in page
    assert 'id="contributions">3<' in page  # two items and one poll respondent
    preview = re.findall(r'<td class="num">(\d+)</td>\s*<td>(GSM-7|UCS-2)</td>', page)
    assert len(preview) == 6 and ("1", "GSM-7") in preview  # English fits one GSM-7 segment
    assert "La clínica del Eastside ahora abre hasta las 8 pm los jueves." in page
    assert "Not written in 中文 (zh_Hans), Tiếng Việt (vi), \u2068العربية\u2069 (ar), Français (fr)" in page
    confirm = client.get(f"{page_url}/publish").text
    assert 'id="no-public-link"' in confirm  # no LOOPLINE_PUBLIC_URL here: said before publishing
    assert "tells <strong>2</strong> residents" in confirm
    assert re.search(r"<td>sms</td><td class=\"num\">2</td>", confirm)

    published = client.post(f"{page_url}/publish", data={"csrf_token": csrf})
    assert "2 items moved to their outcome; 2 residents will be told" in published.text
    rows = {row.address: row.text for row in outbox_notices(runtime)}
    # Each notice carries the resident's own reference.
    assert re.match(
        r"Eastside Health Voices - lo que dijiste \(#\d{4,}\), lo que hicimos: La clínica", rows["+14155550701"]
    )
    assert "Community health priorities" not in rows["+14155550702"]  # 1 respondent: no results at all
    with runtime.db.transaction() as session:
        statuses = {ref: status for ref, status in session.execute(select(InputItem.ref, InputItem.status))}
    assert statuses == {ref_es: "acted_on", ref_en: "not_adopted"}
    again = client.post(f"{page_url}/publish", data={"csrf_token": csrf})
    assert "already published" in again.text and len(outbox_notices(runtime)) == 2
    after = client.get(page_url).text
    assert f'action="{page_url}/edit"' not in after and 'href="/public/decisions/evening-clinic"' in after
    assert post("items", refs=str(ref_es)) == 400  # published: no more changes
    assert client.get("/dashboard/inbox/" + str(ref_es)).text.count("/dashboard/decisions/evening-clinic") == 1
    listing = client.get("/dashboard/decisions").text
    assert "An evening clinic" in listing and '<td class="num">3</td>' in listing and "published" in listing


def test_roles_who_may_read_and_who_may_decide(client: TestClient, runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = join(chat, Channel.SMS, "+14155550703", "en")
    shared_ref = give_feedback(resident, "en", "More benches", may_contact=False)
    private_ref = give_feedback(resident, "en", "My neighbour is loud", may_contact=False)
    staff = TestClient(client.app)
    csrf = sign_in(staff, make_user(runtime, "staff"))
    url = create(staff, csrf, slug="benches")
    staff.post(f"{url}/items", data={"csrf_token": csrf, "refs": f"{shared_ref}, {private_ref}"})

    viewer_csrf = sign_in(client, make_user(runtime, "viewer"))
    assert client.get("/dashboard/decisions/new").status_code == 403
    assert client.get(url).status_code == 404  # drafts are for those who decide
    assert client.post(f"{url}/publish", data={"csrf_token": viewer_csrf}).status_code == 403
    assert client.post(f"{url}/items", data={"csrf_token": viewer_csrf, "refs": "1"}).status_code == 403
    staff.post(f"{url}/publish", data={"csrf_token": csrf})
    assert "An evening clinic" in client.get(url).text

    partner = TestClient(client.app)
    sign_in(partner, make_user(runtime, "partner", organization="Eastside Promotoras"))
    with runtime.db.transaction() as session:
        org = session.scalars(select(Organization)).one()
        sharing.share(session, org.id, "item", str(shared_ref), runtime.clock.now())
    page = partner.get(url).text
    assert "More benches" in page and "My neighbour is loud" not in page
    assert "And 1 item not shared with your organization." in page
    assert partner.get("/dashboard/decisions/no-such").status_code == 404
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.purpose == "decision:1"))


def test_serve_says_at_start_when_notices_will_have_no_public_link() -> None:
    without = startup_line(load_settings({}), "http://127.0.0.1:8000")
    assert "LOOPLINE_PUBLIC_URL not set: decision notices will go without their public link" in without
    with_url = startup_line(load_settings({"LOOPLINE_PUBLIC_URL": "https://x.example"}), "http://127.0.0.1:8000")
    assert "LOOPLINE_PUBLIC_URL" not in with_url
