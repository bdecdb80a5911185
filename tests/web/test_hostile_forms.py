"""Hostile input to every staff page: generated forms posted to every dashboard action and generated query
strings sent to every page, signed in as an admin with a valid CSRF token (so the input reaches the code).
The property: never a 5xx, on SQLite and on PostgreSQL (where an over-long value would break a column)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.cli.content import DEMO_DIR
from bot.conversation.flows.loader import read_document
from bot.engagement.decisions import publishing as decisions
from bot.engagement.events.calendar import load_event, moved_to_offset
from bot.engagement.polls import definition as polls
from bot.messages import Channel
from bot.runtime import Runtime
from bot.staff import accounts
from bot.store.staff import User
from bot.web.app import create_app
from tests.support.chat import Chat
from tests.support.examples import examples
from tests.support.staff import make_user, sign_in
from tests.support.voices import give_feedback, join

_PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")
_NAMES = re.compile(r'name="([^"]+)"')
FORM = "application/x-www-form-urlencoded"
SKIPPED = ("/logout",)  # signing out is not hostile input, and it would end the test's session

# Text that is not valid in a form as the browser sends it is still possible on the wire; keep to what httpx
# can encode (no lone surrogates), but include controls, NUL, bidi marks, very long and non-Latin text.
TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.sampled_from(["", " ", "0", "-1", "99999999999999999999", "1e309", "NaN", "2026-13-45T25:61", "\x00", "\u202e"]),
    # Digits that are not ASCII: `str.isdigit` says yes to all of them, `int` refuses the superscript.
    st.sampled_from(["²", "#1", "١", "٣٠٠٠٠٠٠٠٠٠٠", "１２", "⑦"]),
    st.text(st.characters(exclude_categories=("Cs",)), min_size=300, max_size=5000),
)


@dataclass
class Site:
    client: TestClient
    csrf: str
    posts: list[str]
    pages: list[str]
    field_names: list[str]


def _fill(path: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values.get(m.group(1), "no-such"), path)


def _seed(runtime: Runtime, chat: Callable[..., Chat]) -> dict[str, str]:
    """Real objects for every path parameter: a poll, an event, a feedback item, a draft decision, a user."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        for path in sorted(DEMO_DIR.glob("*.yaml")):
            document = read_document(path)
            if document.get("kind") == "poll":
                poll, _version = polls.load_poll(session, document, runtime.flows, runtime.clock)
                polls.set_status(session, poll.slug, "open", now)
            elif document.get("kind") == "event":
                event = load_event(session, moved_to_offset(document, now), now)
    resident = join(chat, Channel.SMS, "+14155550166", "es", area="94110")
    ref = give_feedback(resident, "es", "La clínica cierra muy temprano", may_contact=True)
    other = make_user(runtime, "staff", "other@health.example")
    with runtime.db.transaction() as session:
        fields = decisions.DecisionFields(texts={"title": {"en": "Evening clinic"}, "summary": {"en": "We open late."}})
        decision = decisions.create(session, fields, "en", "test", now)
        user = session.scalars(select(User).where(User.email == other)).one()
        accounts.create_token(session, user, "t", now)
        return {"slug": decision.slug, "ref": str(ref), "id": "1", "user_id": str(user.id), "token_id": "1"} | {
            "poll_slug": poll.slug,
            "event_slug": event.slug,
        }


def _site(runtime: Runtime, chat: Callable[..., Chat]) -> Iterator[Site]:
    values = _seed(runtime, chat)
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
        csrf = sign_in(client, make_user(runtime, "admin"))
        posts: list[str] = []
        pages: list[str] = []
        for route in client.app.routes:  # type: ignore[attr-defined]
            if not isinstance(route, Route) or not route.path.startswith("/dashboard"):
                continue
            slug_value = values["slug"]
            if route.path.startswith("/dashboard/polls"):
                slug_value = values["poll_slug"]
            elif route.path.startswith("/dashboard/events"):
                slug_value = values["event_slug"]
            path = _fill(route.path, {**values, "slug": slug_value})
            if "POST" in (route.methods or set()) and path not in SKIPPED:
                posts.append(path)
            if "GET" in (route.methods or set()):
                pages.append(path)
        names: set[str] = set()
        for path in pages:
            names.update(_NAMES.findall(client.get(path).text))
        names.discard("csrf_token")
        yield Site(client, csrf, sorted(set(posts)), sorted(set(pages)), sorted(names))


@pytest.fixture
def site(runtime: Runtime, chat: Callable[..., Chat]) -> Iterator[Site]:
    yield from _site(runtime, chat)


HOSTILE = settings(
    max_examples=examples(300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)


def test_the_site_has_forms_to_attack(site: Site) -> None:
    assert len(site.posts) >= 20, site.posts
    assert {"email", "reason", "text"} <= set(site.field_names), site.field_names
    # The way the properties below post forms does get past the CSRF check (a 403 everywhere would prove nothing).
    tags = next(path for path in site.posts if path.startswith("/dashboard/inbox/") and path.endswith("/tags"))
    body = urlencode([("csrf_token", site.csrf), ("add", "night-hours")]).encode()
    response = site.client.post(tags, content=body, headers={"Content-Type": FORM}, follow_redirects=False)
    assert response.status_code == 303


@HOSTILE
@given(data=st.data())
def test_no_form_gets_a_server_error(site: Site, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(site.posts), label="path")
    names = data.draw(
        st.lists(st.one_of(st.sampled_from(site.field_names), st.text(max_size=12)), max_size=12), label="names"
    )
    form = [(name, data.draw(TEXT, label=name)) for name in names]
    body = urlencode([("csrf_token", site.csrf), *form]).encode()
    response = site.client.post(path, content=body, headers={"Content-Type": FORM}, follow_redirects=False)
    assert response.status_code < 500, (path, form, response.text[-2000:])


@HOSTILE
@given(data=st.data())
def test_no_page_gets_a_server_error_from_its_query(site: Site, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(site.pages), label="path")
    names = data.draw(
        st.lists(
            st.one_of(
                st.sampled_from([*site.field_names, "page", "status", "lang", "from", "to", "q"]), st.text(max_size=12)
            ),
            max_size=6,
        ),
        label="names",
    )
    params = [(name, data.draw(TEXT.filter(lambda t: len(t) < 2000), label=name)) for name in names]
    response = site.client.get(path, params=params, follow_redirects=False)
    assert response.status_code < 500, (path, params, response.text[-2000:])


def test_public_page_query_strings(client: TestClient, tmp_path: Path) -> None:
    for query in ("lang=" + "x" * 5000, "lang=%00", "lang=ar&lang=es", "lang=..%2F..%2Fetc", "lang=zh-Hant-TW"):
        assert client.get(f"/public?{query}").status_code < 500
        assert client.get(f"/public/decisions/nothing?{query}").status_code in (404, 200)
