"""Plain words, never internal names: on every dashboard page an admin can reach, no text a person reads is a topic's
key (health_services), a bare language code (zh_Hans) or an audit actor's key (user:…)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.engagement.feedback import triage
from bot.engagement.feedback.topics import topic_choices
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import InputItem
from bot.web.rendering import local_time
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.support.voices import give_feedback, join
from tests.web.test_hostile_forms import _seed
from tests.web.test_security import _crawl

TOPIC_KEYS = {value for value, _label in topic_choices() if "_" in value}  # "food" is also a word; health_services not
LANGUAGE_CODE = re.compile(r"(?<![(\w])zh_Hans(?![\w)])")


class _Text(HTMLParser):
    """The text a person reads on a page (no tags, attributes, scripts or styles, nor what is set as <code>: syntax
    shown as syntax), one piece per text node."""

    def __init__(self) -> None:
        super().__init__()
        self.pieces: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style", "code")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style", "code")

    def handle_data(self, data: str) -> None:
        if not self._hidden and data.strip():
            self.pieces.append(data.strip())


def _visible(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.pieces


def internal_names(html: str) -> list[str]:
    """Each piece of visible text that is an internal name."""
    return [piece for piece in _visible(html) if _internal(piece)]


def _internal(piece: str) -> bool:
    if piece in TOPIC_KEYS or piece in SUPPORTED_LOCALES or piece.startswith("user:"):
        return True
    return bool(LANGUAGE_CODE.search(piece)) or any(re.search(rf"\b{key}\b", piece) for key in TOPIC_KEYS)


def test_the_check_finds_what_it_looks_for() -> None:
    page = "<td>health_services</td><td>zh_Hans</td><td>user:ana@x.org</td><td>中文 (zh_Hans)</td>"
    page += "<p>Not in zh_Hans, vi</p>"
    assert internal_names(page) == ["health_services", "zh_Hans", "user:ana@x.org", "Not in zh_Hans, vi"]


def test_every_dashboard_page_speaks_plain_words(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    _seed(runtime, chat)
    chinese = join(chat, Channel.SMS, "+14155550177", "zh_Hans")
    ref = give_feedback(chinese, "zh_Hans", "诊所关门太早", may_contact=True)
    email = make_user(runtime, "admin")
    with runtime.db.transaction() as session:
        item = session.scalars(select(InputItem).where(InputItem.ref == ref)).one()
        triage.set_topic(session, item, "health_services", f"user:{email}", runtime.clock.now())
    runtime.settings = replace(runtime.settings, timezone="America/Los_Angeles")
    sign_in(client, email)
    pages = _crawl(client, limit=120)
    assert any(f"/dashboard/inbox/{ref}" in url for url in pages), list(pages)
    # CSV downloads keep the keys: they are data for spreadsheets and scripts.
    found = {url: names for url, html in pages.items() if "<html" in html and (names := internal_names(html))}
    assert found == {}
    # Times are in the program's zone (Los Angeles here), named: nothing is said in UTC.
    utc = {
        url: [p for p in _visible(html) if "UTC" in p and p != "UTC"] for url, html in pages.items() if "<html" in html
    }
    assert {url: pieces for url, pieces in utc.items() if pieces} == {}


def test_staff_read_times_in_the_programs_zone_with_its_name() -> None:
    show = local_time("America/Los_Angeles")
    assert show(datetime(2026, 3, 15, 19, 5, tzinfo=UTC)) == "2026-03-15 12:05 PDT"
    assert show("2026-12-03T17:00:00+00:00") == "2026-12-03 09:00 PST"  # a stored ISO text too
    assert show(None) == ""
