"""The agenda pages as staff meet them (issue 15), in Debian's chromium against a real `loopline serve`: residents'
proposals (publish one), the themes found in what they said (name one), and a decision co-decided with a partner,
moved on after it was published. Screenshots: test-artifacts/agenda/NN-name.png."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bot.engagement.decisions import publishing as decisions
from bot.engagement.decisions.publishing import DecisionFields
from bot.messages import Channel
from bot.runtime import Runtime
from tests.browser.dashboard_helpers import Screenshots, cli, sign_in_page
from tests.conftest import make_settings
from tests.e2e import base_env
from tests.support.chat import Chat
from tests.support.peers import REPO_ROOT, free_port, loopline_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ADMIN, PASSWORD = "planner@eastside.example", "a long planner password"
SAID = [
    ("es", ["hola", "2", "sí", "94110", "no", "PROPUESTA", "Sombra en las paradas de autobús"]),
    ("en", ["hi", "1", "yes", "94110", "no", "PROPOSE", "Shade at the bus stops, we wait in the sun"]),
    ("vi", ["Xin chào", "4", "có", "94124", "không", "ĐỀ XUẤT", "Mái che ở trạm xe buýt"]),
    ("en", ["hi", "1", "yes", "94124", "no", "FEEDBACK", "My rent went up again", "1", "1"]),
    ("es", ["hola", "2", "sí", "94124", "no", "COMENTARIO", "El alquiler es muy alto", "1", "1"]),
    ("en", ["hi", "1", "yes", "94110", "no", "FEEDBACK", "The landlord raised the rent", "1", "1"]),
]


def _seed(database: Path) -> None:
    """Residents who propose and say things, through the real pipeline; a draft decision."""
    runtime = Runtime(make_settings(f"sqlite:///{database}"))
    runtime.prepare(migrate=True)
    try:
        for n, (_locale, texts) in enumerate(SAID):
            resident = Chat(runtime, Channel.SMS, f"+1415555{n:04d}")
            for text in texts:
                resident.send(text)
        with runtime.db.transaction() as session:
            texts = {"title": {"en": "Shade at bus stops"}, "summary": {"en": "Ten shelters by July."}}
            decisions.create(session, DecisionFields(texts=texts, slug="shade"), "en", "x", runtime.clock.now())
    finally:
        runtime.close()


def test_proposals_themes_and_a_decision_that_keeps_going(tmp_path: Path, browser: Browser) -> None:
    shots = Screenshots(folder=REPO_ROOT / "test-artifacts" / "agenda")
    database = tmp_path / "agenda.db"
    cli(database, "migrate")
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    cli(database, "users", "create", "--email", ADMIN, "--role", "admin", "--password-file", str(password_file))
    _seed(database)
    port = free_port()
    with loopline_server(base_env(database), port=port, log_dir=tmp_path):
        page = browser.new_page(base_url=f"http://127.0.0.1:{port}")
        try:
            sign_in_page(page, ADMIN, PASSWORD)
            _proposals(page, shots)
            _themes(page, shots)
            _decision(page, shots)
        finally:
            page.close()
    assert [path.stem[3:] for path in shots.taken] == ["proposals", "proposal", "themes", "decision"]


def _proposals(page: Page, shots: Screenshots) -> None:
    page.get_by_role("link", name="Proposals").first.click()
    table = page.locator("table#proposals")
    expect(table).to_contain_text("Sombra en las paradas de autobús")
    shots.take(page, "proposals")
    table.get_by_role("link").first.click()
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#proposal-state")).to_have_text("published")
    shots.take(page, "proposal")


def _themes(page: Page, shots: Screenshots) -> None:
    page.get_by_role("link", name="Themes").first.click()
    page.get_by_role("button", name="Find the themes again").click()
    rows = page.locator("table#themes tbody tr")
    expect(rows).to_have_count(2)  # the bus stops (three languages) and the rent
    bus = rows.filter(has_text="Tiếng Việt")  # the theme said in three languages
    expect(bus).to_contain_text("bus")
    bus.get_by_role("textbox").fill("Shade at bus stops")
    bus.get_by_role("button", name="Name and confirm").click()
    expect(rows.filter(has_text="Shade at bus stops")).to_contain_text("confirmed")
    shots.take(page, "themes")


def _decision(page: Page, shots: Screenshots) -> None:
    page.goto("/dashboard/decisions/shade")
    expect(page.locator("section#co-owners")).to_contain_text("Decided with partner organizations")
    page.goto("/dashboard/decisions/shade/publish")
    page.get_by_role("button", name=re.compile("Publish")).click()
    expect(page.locator("#decision-status")).to_have_text("published")
    page.get_by_label("In progress").check()
    page.get_by_role("button", name="Move it on").click()
    expect(page.locator("#decision-stage")).to_have_text("in progress")
    shots.take(page, "decision")
