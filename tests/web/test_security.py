"""Security of every staff route, found by walking the app's routes (a new page is covered without a new test):
anonymous access refused, wrong roles refused, CSRF required on every form, no address shown to partners or
viewers anywhere they can click."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.messages import Channel
from bot.runtime import Runtime
from bot.staff import accounts, sharing
from bot.store.staff import ROLES, Organization
from tests.conftest import make_settings
from tests.support.chat import Chat
from tests.support.media import png, send_media, store_files
from tests.support.staff import api_token, csrf_of, make_user, sign_in

PUBLIC = ("/api/v1/openapi.json",)
_PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")
_HREF = re.compile(r'(?:href|action)="([^"]+)"')
SMS_NUMBERS = ("+14155550123", "+14155550188")
TELEGRAM_CHAT = "730125561"


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    """The web app's runtime (SMS live, Telegram off), keeping residents' files in the test's folder."""
    rt = Runtime(make_settings(database_url, LOOPLINE_TELEGRAM_TOKEN="", LOOPLINE_MEDIA_DIR=str(tmp_path / "media")))
    rt.prepare(migrate=True)
    yield rt
    rt.close()


def _fill(path: str) -> str:
    return _PARAM.sub(lambda m: "999999" if m.group(1) in ("id", "ref", "user_id", "token_id") else "no-such", path)


def protected(client: TestClient) -> Iterator[tuple[str, str, str]]:
    """(method, path with parameters filled, permission) of every dashboard and API route."""
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, Route) or route.path in PUBLIC:
            continue
        if not (route.path.startswith(("/dashboard", "/api/")) or route.path == "/logout"):
            continue
        permission = getattr(route.endpoint, "required_permission", None)
        assert permission, f"{route.path} is not guarded by @page or @api"
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield method, _fill(route.path), permission


def test_there_are_routes_to_check(client: TestClient) -> None:
    paths = {path for _method, path, _permission in protected(client)}
    assert "/dashboard" in paths and "/logout" in paths
    assert len(paths) >= 10, paths


def test_anonymous_is_refused_everywhere(client: TestClient) -> None:
    for method, path, _permission in protected(client):
        response = client.request(method, path, follow_redirects=False)
        if path.startswith("/api/"):
            assert response.status_code == 401, (method, path)
        elif method == "GET":
            assert response.status_code == 303 and response.headers["location"].startswith("/login?next="), path
        else:
            assert response.status_code == 401, (method, path)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_what_it_may_not_do(client: TestClient, runtime: Runtime, role: str) -> None:
    email = make_user(runtime, role)
    csrf = sign_in(client, email)
    token = api_token(runtime, email)
    checked = 0
    for method, path, permission in protected(client):
        if permission in accounts.PERMISSIONS[role]:
            continue
        checked += 1
        if path.startswith("/api/"):
            response = client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        elif method == "POST":
            response = client.post(path, data={"csrf_token": csrf}, follow_redirects=False)
        else:
            response = client.get(path, follow_redirects=False)
        assert response.status_code == 403, (role, method, path, response.status_code)
    if role != "admin":
        assert checked > 0


def test_every_form_needs_the_csrf_token(client: TestClient, runtime: Runtime) -> None:
    csrf = sign_in(client, make_user(runtime, "admin"))
    posts = [
        path for method, path, _permission in protected(client) if method == "POST" and not path.startswith("/api")
    ]
    assert "/logout" in posts
    for path in posts:
        for data in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf[:-1]}):
            response = client.post(path, data=data, follow_redirects=False)
            assert response.status_code == 403, (path, data)
    assert client.get("/dashboard").status_code == 200  # still signed in: nothing above took effect


def _seed_residents(chat: Callable[..., Chat]) -> None:
    """Two SMS residents and a Telegram one who joined and left feedback (numbers that must never leak)."""
    for number in SMS_NUMBERS:
        resident = chat(Channel.SMS, number)
        for text in ("hi", "2", "sí", "94110", "COMENTARIO", "La clínica cierra muy temprano.", "1", "sí"):
            resident.send(text)
    resident = chat(Channel.TELEGRAM, TELEGRAM_CHAT)
    for text in ("hi", "5", "نعم", "تخطي", "رأي", "نحتاج إلى عيادة مسائية", "1", "نعم"):
        resident.send(text)


def _crawl(client: TestClient, start: str = "/dashboard", limit: int = 150) -> dict[str, str]:
    """Every same-site page reachable by GET links from start (the way a person clicking around would)."""
    seen: dict[str, str] = {}
    queue = [start]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        response = client.get(url, follow_redirects=True)
        seen[url] = response.text if response.status_code == 200 else ""
        for href in _HREF.findall(response.text):
            target = urljoin(url, unescape(href))
            parts = urlsplit(target)
            if parts.netloc and parts.netloc != "testserver":
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path.startswith(("/dashboard", "/public")) and path not in seen:
                queue.append(path)
    return seen


def _share_everything_with(runtime: Runtime, organization: str) -> None:
    from sqlalchemy import select

    from bot.store.engagement import InputItem, Poll

    with runtime.db.transaction() as session:
        org = session.scalars(select(Organization).where(Organization.name == organization)).one()
        now = runtime.clock.now()
        for ref in session.scalars(select(InputItem.ref)):
            sharing.share(session, org.id, "item", str(ref), now)
        for slug in session.scalars(select(Poll.slug)):
            sharing.share(session, org.id, "poll", slug, now)
        sharing.share(session, org.id, "topic", "health_services", now)


@pytest.mark.parametrize("role", ["partner", "viewer"])
def test_no_address_on_any_page_a_partner_or_viewer_can_open(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat], role: str
) -> None:
    _seed_residents(chat)
    email = make_user(runtime, role, organization="Eastside Promotoras" if role == "partner" else None)
    if role == "partner":
        _share_everything_with(runtime, "Eastside Promotoras")
    sign_in(client, email)
    pages = _crawl(client)
    assert len(pages) >= 3, list(pages)
    everything = "\n".join(pages.values())
    assert "La clínica cierra muy temprano." in everything or role == "viewer" or "/dashboard/inbox" not in pages
    for number in (*SMS_NUMBERS, TELEGRAM_CHAT, "4155550123", "(415) 555-0123"):
        leaking = [url for url, text in pages.items() if number in text]
        assert leaking == [], f"{number} shown to a {role} on {leaking}"


def test_the_same_crawl_finds_addresses_for_staff(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    """The control for the test above: the crawl does reach pages that show addresses, to those allowed."""
    _seed_residents(chat)
    sign_in(client, make_user(runtime, "staff"))
    everything = "\n".join(_crawl(client).values())
    assert all(number in everything for number in (*SMS_NUMBERS, TELEGRAM_CHAT))


OWN_WORDS = "Zorblaxian heritage"  # what one resident says about themselves, in their own words


@pytest.mark.parametrize("role", ["admin", "staff", "partner", "viewer"])
def test_what_residents_say_about_themselves_is_on_no_page(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat], role: str
) -> None:
    """No page anyone can reach shows a resident's answers about themselves one by one: not their own words, not the
    message that carried them; partners and viewers reach no resident's page at all."""
    _seed_residents(chat)
    resident = chat(Channel.SMS, "+14155550199")
    for text in ("hi", "1", "yes", "skip", "yes", "3", "9", OWN_WORDS, "4", "Two-spirit", "7", "1", "1"):
        resident.send(text)
    email = make_user(runtime, role, organization="Eastside Promotoras" if role == "partner" else None)
    if role == "partner":
        _share_everything_with(runtime, "Eastside Promotoras")
    sign_in(client, email)
    pages = _crawl(client)
    for words in (OWN_WORDS, "Two-spirit"):
        assert [url for url, text in pages.items() if words in text] == [], role
    if role in ("partner", "viewer"):
        assert not [url for url in pages if url.startswith("/dashboard/residents/") and pages[url]], role
    else:  # the control: their page is open to admin and staff, and says only that answers are held, and how many
        from sqlalchemy import select

        from bot.store.models import Address

        with runtime.db.transaction() as session:
            rid = session.scalar(select(Address.resident_id).where(Address.value == "+14155550199"))
        page = client.get(f"/dashboard/residents/{rid}").text
        assert "About themselves: granted, 8 answers" in page and OWN_WORDS not in page


MEDIA_NUMBER = "+14155550155"
_MEDIA_SRC = re.compile(r'(?:src|href)="(/dashboard/media/\d+)"')


def _item_with_a_photo(runtime: Runtime, chat: Callable[..., Chat]) -> tuple[int, str]:
    """A resident's feedback that is a photo alone, fetched and stored: the item's ref and the photo's URL."""
    from bot.messages import MediaRef
    from bot.store.engagement import InputItem
    from bot.store.media import Attachment

    resident = chat(Channel.SMS, MEDIA_NUMBER)
    for text in ("hi", "1", "yes", "94110", "2", "FEEDBACK"):
        resident.send(text)
    send_media(runtime, Channel.SMS, MEDIA_NUMBER, (MediaRef("provider:photo", "image/jpeg"),))
    resident.send("1")
    resident.send("yes")
    assert store_files(runtime, Channel.SMS, {"provider:photo": png()})["stored"] == 1
    from sqlalchemy import select

    with runtime.db.transaction() as session:
        attachment = session.scalars(select(Attachment)).one()
        item = session.get(InputItem, attachment.item_id)
        assert item is not None
        return item.ref, f"/dashboard/media/{attachment.id}"


def _media_shown(pages: dict[str, str]) -> set[str]:
    return {found for text in pages.values() for found in _MEDIA_SRC.findall(text)}


@pytest.mark.parametrize("role", ["partner", "viewer"])
def test_a_residents_photo_shows_to_partners_and_viewers_only_when_shared_and_publishable(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat], role: str
) -> None:
    """Partners and viewers see a resident's file nowhere (pages, the file's own URL) until staff mark it
    publishable; then those who may see its item (shared with the partner's organization) see it, no one else."""
    _seed_residents(chat)
    ref, photo = _item_with_a_photo(runtime, chat)
    staff_client = TestClient(client.app, base_url="http://testserver")
    staff_csrf = sign_in(staff_client, make_user(runtime, "staff"))
    assert photo in _media_shown(_crawl(staff_client))  # the control: staff see it on the item's page
    email = make_user(runtime, role, organization="Eastside Promotoras" if role == "partner" else None)
    if role == "partner":
        _share_everything_with(runtime, "Eastside Promotoras")
        make_user(runtime, "partner", "other@partner.example", organization="Westside Tenants")
    own_csrf = sign_in(client, email)
    assert _media_shown(_crawl(client)) == set()
    assert client.get(f"/dashboard/inbox/{ref}").status_code == 200  # the item itself is theirs to see
    assert client.get(photo).status_code == 404

    form = staff_client.get(f"/dashboard/inbox/{ref}").text
    marked = staff_client.post(f"{photo}/publishable", data={"csrf_token": csrf_of(form), "publishable": "1"})
    assert marked.status_code == 200 and staff_csrf
    assert _media_shown(_crawl(client)) == {photo}
    shown = client.get(photo)
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
    if role == "partner":  # another organization, with which nothing is shared, still sees nothing
        other = TestClient(client.app, base_url="http://testserver")
        sign_in(other, "other@partner.example")
        assert _media_shown(_crawl(other)) == set() and other.get(photo).status_code == 404
    assert client.post(f"{photo}/publishable", data={"csrf_token": own_csrf}).status_code == 403  # staff's to say
