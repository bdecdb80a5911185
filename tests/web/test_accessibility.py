"""Accessibility basics on every page an admin (who sees the most) can reach by clicking, and on the public page in
every language: a language and title, one h1, headings in order, every control labelled, every table with header
cells, no positive tabindex, images and SVG charts with text alternatives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from bot.i18n.negotiation import SUPPORTED_LOCALES, text_direction
from bot.messages import Channel
from bot.runtime import Runtime
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.support.voices import give_feedback, join
from tests.web.test_hostile_forms import _seed
from tests.web.test_security import _crawl

CONTROLS = ("input", "select", "textarea")


@dataclass
class Page(HTMLParser):
    """What the checks need from one page, collected in a single pass."""

    html_attrs: dict[str, str | None] = field(default_factory=dict)
    title: str = ""
    headings: list[int] = field(default_factory=list)
    label_for: set[str] = field(default_factory=set)
    controls: list[dict[str, str | None]] = field(default_factory=list)
    tables: list[bool] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _in_title: bool = False
    _in_label: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.html_attrs = found
        elif tag == "title":
            self._in_title = True
        elif len(tag) == 2 and tag[0] == "h" and tag[1].isdigit():
            self.headings.append(int(tag[1]))
        elif tag == "label":
            self._in_label += 1
            if found.get("for"):
                self.label_for.add(str(found["for"]))
        elif tag in CONTROLS and found.get("type") not in ("hidden", "submit", "button"):
            self.controls.append({**found, "_tag": tag, "_wrapped": "yes" if self._in_label else None})
        elif tag == "table":
            self.tables.append(False)
        elif tag == "th" and self.tables:
            self.tables[-1] = True
        elif tag == "img" and found.get("alt") is None:
            self.problems.append(f"<img> without alt: {found.get('src')}")
        elif tag == "svg" and not (
            found.get("aria-hidden") == "true" or found.get("aria-label") or found.get("aria-labelledby")
        ):
            self.problems.append("an <svg> with no text alternative (aria-label, aria-labelledby or aria-hidden)")
        if (found.get("tabindex") or "0").lstrip("-").isdigit() and int(found.get("tabindex") or "0") > 0:
            self.problems.append(f"positive tabindex on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "label":
            self._in_label -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data

    def check(self) -> list[str]:
        problems = list(self.problems)
        if not self.html_attrs.get("lang"):
            problems.append("<html> has no lang")
        if not self.title.strip():
            problems.append("no <title>")
        if self.headings.count(1) != 1:
            problems.append(f"{self.headings.count(1)} h1 headings (one expected)")
        for before, after in zip(self.headings, self.headings[1:], strict=False):
            if after > before + 1:
                problems.append(f"heading level jumps from h{before} to h{after}")
        for control in self.controls:
            named = control.get("aria-label") or control.get("aria-labelledby") or control.get("_wrapped")
            if not named and control.get("id") not in self.label_for:
                problems.append(f"<{control['_tag']} name={control.get('name')!r}> has no label")
        if not all(self.tables):
            problems.append("a <table> without header cells")
        return problems


def audit(html: str) -> list[str]:
    page = Page()
    page.feed(html)
    return page.check()


def test_the_checks_catch_what_they_look_for() -> None:
    bad = '<html><head></head><body><h2>x</h2><h4>y</h4><input name="q"><table><tr><td>1</td></tr></table></body>'
    found = audit(bad)
    assert "<html> has no lang" in found and "no <title>" in found and "0 h1 headings (one expected)" in found
    assert "heading level jumps from h2 to h4" in found and "<input name='q'> has no label" in found
    assert "a <table> without header cells" in found
    good = '<html lang="en"><title>t</title><h1>a</h1><label for="q">Q</label><input id="q" name="q"></html>'
    assert audit(good) == []


def test_every_dashboard_page_an_admin_can_reach(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    _seed(runtime, chat)
    sign_in(client, make_user(runtime, "admin"))
    pages = _crawl(client, limit=120)
    assert len(pages) >= 25, list(pages)
    problems = {url: found for url, html in pages.items() if "<html" in html and (found := audit(html))}
    assert problems == {}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_public_page_in_every_language(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat], locale: str
) -> None:
    resident = join(chat, Channel.SMS, "+14155550199", "en")
    give_feedback(resident, "en", "More benches", may_contact=True)
    html = client.get(f"/public?lang={locale}").text
    assert audit(html) == []
    assert f'lang="{locale.replace("_", "-")}"' in html or f'lang="{locale}"' in html
    assert f'dir="{text_direction(locale)}"' in html


def test_charts_are_drawn_big_enough_to_read_and_the_sign_in_page_has_a_title(client: TestClient) -> None:
    """A chart keeps its own size (15px labels) and scrolls sideways on a narrow screen instead of shrinking."""
    import re
    from pathlib import Path

    css = (Path(__file__).resolve().parents[2] / "bot" / "web" / "static" / "dashboard.css").read_text()
    text_size = re.search(r"svg\.chart text \{[^}]*font-size: (\d+)px", css)
    min_width = re.search(r"svg\.chart \{[^}]*min-width: (\d+)rem", css)
    assert text_size and int(text_size.group(1)) >= 14
    assert min_width and int(min_width.group(1)) >= 36
    assert re.search(r"<title>Sign in · ", client.get("/login").text)
