"""You said, we did, end to end in headless Chromium: an admin writes a two-language poll, a Spanish resident answers
it on Telegram (the Bot API emulator), staff triage the answer and publish a decision linked to it, the resident is
told in Spanish, and the public page shows the decision in Spanish and in Arabic (right to left)."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from bot.conversation.router import DECIDED_TEXTS
from bot.engagement.decisions.notices import NOTICE_REF
from tests.browser.dashboard_helpers import (
    Screenshots,
    TelegramResident,
    bot_token,
    catalog,
    catalog_plural,
    cli,
    fill_languages,
)
from tests.e2e import (
    ABOUT_ME_OFFER,
    AREA_PROMPT,
    CONSENT_PROMPT,
    FINISH,
    MENU_PROMPT,
    PROGRAM,
    WELCOME,
    YES_LABEL,
    base_env,
    buttons,
    expected,
    message_text,
)
from tests.support.peers import free_port, loopline_server, telegram_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ADMIN, PASSWORD = "organizer@eastside.example", "a long organizer password"
CHAT = 5151
EN, ES = "English (en)", "Español (es)"
OTHER_LANGUAGES = ("中文 (zh_Hans)", "Tiếng Việt (vi)", "\u2068العربية\u2069 (ar)", "Français (fr)")  # RTL isolated

# The poll as the organizer writes it, in English and Spanish.
SLUG = "park-shade"
TITLE = {EN: "Shade in our parks", ES: "Sombra en nuestros parques"}
KEYWORD = {EN: "SHADE", ES: "SOMBRA"}
CHOICE = {EN: "What would help most in the park on hot days?", ES: "¿Qué ayudaría más en el parque en días de calor?"}
OPTIONS = [
    {EN: "More shade trees", ES: "Más árboles de sombra"},
    {EN: "Water fountains", ES: "Fuentes de agua"},
    {EN: "Cooling misters", ES: "Nebulizadores"},
]
OPEN_TEXT = {EN: "What else should we know?", ES: "¿Qué más deberíamos saber?"}
THANKS = {EN: "Thank you! We will share what we decide.", ES: "¡Gracias! Les contaremos lo que decidamos."}
IDEA = "Faltan bancos a la sombra junto al parque infantil"

# The decision, in English and Spanish.
DECISION = {
    "title": {EN: "More shade trees in Eastside parks", ES: "Más árboles de sombra en los parques"},
    "summary": {
        EN: "We will plant 40 shade trees and add shaded benches in three parks this spring.",
        ES: "Plantaremos 40 árboles de sombra y pondremos bancos a la sombra en tres parques esta primavera.",
    },
    "changed": {
        EN: "Residents asked for shade near the playgrounds: the benches were added to the plan.",
        ES: "Los vecinos pidieron sombra junto a los juegos infantiles: añadimos los bancos al plan.",
    },
}
DECISION_LABELS = {
    "title": "Title",
    "summary": "Short summary (sent to residents: keep it short for SMS)",
    "changed": "What changed because of community input",
}
DECISION_GROUPS = {
    EN: "English (en): title and summary required",
    ES: "Español (es): optional, the first language is used when empty",
}
TAG = "shade"
WHEN = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d [A-Z+0-9-]+$")  # how the dashboard shows a time: with its zone
BY_ADMIN = re.compile(re.escape(ADMIN))  # the actor recorded with a change
REVIEW_REASON = "Parks team is costing shaded benches"


def cells(table: Locator, row_text: str) -> Locator:
    """The header and data cells of the table's body row that contains `row_text`, in order."""
    return table.locator("tbody tr").filter(has_text=row_text).locator("th, td")


def nav(page: Page, name: str) -> None:
    """Follow a link of the dashboard's main navigation."""
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name=name, exact=True).click()


def test_you_said_we_did_from_the_dashboard_to_telegram_and_the_public_page(tmp_path: Path, browser: Browser) -> None:
    """The steps of issue 5's "Done means", in order, against a real `loopline serve` and the Telegram emulator."""
    shots = Screenshots()
    database = tmp_path / "dashboard.db"
    cli(database, "migrate")
    password_file = tmp_path / "password.txt"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    made = cli(database, "users", "create", "--email", ADMIN, "--role", "admin", "--password-file", str(password_file))
    assert f"created admin {ADMIN}" in made

    token, secret, port = bot_token(), secrets.token_urlsafe(24), free_port()
    public_url = f"http://127.0.0.1:{port}"
    with telegram_emulator(log_dir=tmp_path) as emulator:
        env = base_env(
            database,
            LOOPLINE_PUBLIC_URL=public_url,
            LOOPLINE_TELEGRAM_TOKEN=token,
            LOOPLINE_TELEGRAM_SECRET=secret,
            LOOPLINE_TELEGRAM_API_BASE=emulator.base_url,
            LOOPLINE_TELEGRAM_MODE="webhook",
            LOOPLINE_QUIET_HOURS="00:00-00:00",  # never quiet: the notification must not wait for the morning
            LOOPLINE_FREQUENCY_CAP="0/7d",  # no weekly cap on messages either
        )
        with loopline_server(env, port=port, log_dir=tmp_path):
            resident = TelegramResident(emulator, token, CHAT, "es")
            page = browser.new_page(base_url=public_url)
            try:
                sign_in(page, shots)
                create_and_open_the_poll(page, shots)
                answer_the_poll_on_telegram(resident)
                ref = triage_the_answer(page, shots)
                slug = publish_a_decision(page, shots, ref)
                resident_is_told_in_spanish(resident, public_url, slug, ref)
                public_page_in_spanish_and_arabic(page, shots)
                item_shows_the_outcome(page, shots, ref)
            finally:
                page.close()
    assert [path.stem[3:] for path in shots.taken] == [
        "login",
        "overview",
        "poll-form",
        "poll-draft",
        "poll-open",
        "poll-results",
        "inbox-spanish",
        "inbox-item-under-review",
        "decision-form",
        "decision-draft",
        "decision-confirm",
        "decision-published",
        "public-spanish",
        "public-arabic",
        "inbox-item-acted-on",
    ]


def sign_in(page: Page, shots: Screenshots) -> None:
    """Step 1: the admin signs in at /login and lands on the overview."""
    page.goto("/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    shots.take(page, "login")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_text(f"{ADMIN} (admin)")).to_be_visible()
    shots.take(page, "overview")


def create_and_open_the_poll(page: Page, shots: Screenshots) -> None:
    """Step 2: a poll in English and Spanish (a one-choice question with 3 options, an open question), saved, its
    missing translations listed, then opened past the fallback warning."""
    nav(page, "Polls")
    page.get_by_role("link", name="Create a poll").click()
    expect(page.get_by_role("heading", name="New poll", level=1)).to_be_visible()
    page.get_by_label("Short name").fill(SLUG)
    fill_languages(page, "Title", TITLE)
    # The form grows on the server (no JavaScript): a third option, then a second question; what was typed stays.
    page.get_by_role("button", name="Add an answer to question 1").click()
    expect(page.get_by_role("group", name="Title", exact=True).get_by_label(ES, exact=True)).to_have_value(TITLE[ES])
    page.get_by_role("button", name="Add a question").click()
    expect(page.get_by_role("group", name="Question 2", exact=True)).to_be_visible()
    expect(page.get_by_label("Short name")).to_have_value(SLUG)

    fill_languages(page, "Keyword (optional)", KEYWORD)
    first = page.get_by_role("group", name="Question 1", exact=True)
    first.get_by_label("Kind of question").select_option("single")
    fill_languages(first, "Question 1 text", CHOICE)
    for number, option in enumerate(OPTIONS, 1):
        fill_languages(first, f"Question 1, answer {number}", option)
    second = page.get_by_role("group", name="Question 2", exact=True)
    second.get_by_label("Kind of question").select_option("text")
    fill_languages(second, "Question 2 text", OPEN_TEXT)
    fill_languages(page, "Thank-you message", THANKS)
    shots.take(page, "poll-form")
    page.get_by_role("button", name="Save poll").first.click()

    # Saved as a draft: the missing-translation list names every language that was not written.
    expect(page).to_have_url(re.compile(rf"/dashboard/polls/{SLUG}\?done="))
    expect(page.get_by_role("status")).to_contain_text("Poll saved")
    expect(page.locator("#poll-status")).to_have_text("draft")
    missing = page.locator("section.missing-translations")
    expect(missing.get_by_role("heading", name="Missing translations")).to_be_visible()
    title_line = missing.get_by_role("listitem").filter(has_text=re.compile(r"^Title:"))
    for language in OTHER_LANGUAGES:
        expect(title_line).to_contain_text(language)
    expect(title_line).not_to_contain_text(EN)
    expect(title_line).not_to_contain_text(ES)

    # Opening: the page warns which languages will read the English fallback, then the poll opens.
    warning = page.get_by_role("note")
    expect(warning).to_contain_text("Before you open: some texts are not translated; residents in these languages read")
    for language in OTHER_LANGUAGES:  # one short line a language: how many texts, the first two
        expect(warning).to_contain_text(f"{language}: 7 texts (Title, Question 1 (q1), and 5 more)")
    expect(warning).not_to_contain_text(f"{ES}:")
    shots.take(page, "poll-draft")
    page.get_by_role("button", name="Open the poll").click()
    expect(page.get_by_role("status")).to_have_text("Poll opened.")
    expect(page.locator("#poll-status")).to_have_text("open")
    expect(page.get_by_text(f"Residents can answer now (send POLL or {KEYWORD[EN]} or {KEYWORD[ES]}).")).to_be_visible()
    shots.take(page, "poll-open")


def answer_the_poll_on_telegram(resident: TelegramResident) -> None:
    """Step 3: a Telegram resident joins in Spanish with buttons and answers by the Spanish keyword."""
    resident.say("hola")
    (menu,) = resident.receives(1)
    assert message_text(menu) == expected("es", MENU_PROMPT)
    resident.tap(menu, "Español")
    (consent,) = resident.receives(1)
    assert message_text(consent) == expected("es", CONSENT_PROMPT)
    resident.tap(consent, expected("es", YES_LABEL))
    welcome, area = resident.receives(2)
    assert [message_text(welcome), message_text(area)] == [expected("es", WELCOME), expected("es", AREA_PROMPT)]
    resident.say("94110")
    finish, offer = resident.receives(2)
    assert message_text(finish) == expected("es", FINISH)
    assert message_text(offer) == expected("es", ABOUT_ME_OFFER)

    # The poll's questions arrive in Spanish: the one-choice question with a button per option.
    resident.say(KEYWORD[ES].lower())
    (choice,) = resident.receives(1)
    assert message_text(choice) == CHOICE[ES]
    assert [label for _value, label in buttons(choice)] == [option[ES] for option in OPTIONS]
    resident.tap(choice, OPTIONS[0][ES])
    (open_question,) = resident.receives(1)
    assert message_text(open_question) == OPEN_TEXT[ES]
    assert buttons(open_question) == []
    resident.say(IDEA)
    (thanks,) = resident.receives(1)
    assert message_text(thanks) == THANKS[ES]


def triage_the_answer(page: Page, shots: Screenshots) -> int:
    """Step 4: the poll page counts the respondent; the inbox (filtered to Spanish) lists the open answer, which
    staff tag and move to under review with a reason. Returns the item's reference."""
    page.reload()
    expect(page.locator("#respondents")).to_have_text("1")
    results = page.get_by_role("table", name="All respondents")
    expect(cells(results, OPTIONS[0][EN])).to_have_text([OPTIONS[0][EN], "1", "100.0%"])
    expect(cells(results, OPTIONS[1][EN])).to_have_text([OPTIONS[1][EN], "0", "0.0%"])
    by_language = page.get_by_role("table", name="By language")
    expect(cells(by_language, ES)).to_have_text([ES, "1", "1 (100.0%)", "0 (0.0%)", "0 (0.0%)"])
    shots.take(page, "poll-results")

    nav(page, "Inbox")
    filters = page.get_by_role("search", name="Filter the inbox")
    filters.get_by_label("Language").select_option("es")
    filters.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"language=es"))
    expect(page.locator("#inbox-count")).to_contain_text("1 item matches the filters")
    row = page.get_by_role("table", name="Input items, newest first").get_by_role("row").filter(has_text=IDEA)
    expect(row).to_contain_text(f"poll ({SLUG})")
    expect(row).to_contain_text("telegram")
    expect(row).to_contain_text("Received")
    link = row.get_by_role("link", name=re.compile(r"^#\d+$"))
    ref = int(link.inner_text().lstrip("#"))
    shots.take(page, "inbox-spanish")

    link.click()
    expect(page.get_by_role("heading", name=f"Item #{ref}", level=1)).to_be_visible()
    expect(page.locator("blockquote.item-text")).to_have_text(IDEA)
    page.get_by_label("Add tags (separated by commas)").fill(TAG)
    page.get_by_role("button", name="Save the tags").click()
    expect(page.get_by_role("status")).to_have_text(f"Tags of #{ref}: {TAG}.")
    page.get_by_label("New status").select_option(label="Under review")
    page.get_by_label("Reason (required)").fill(REVIEW_REASON)
    page.get_by_role("button", name="Change the status").click()
    expect(page.get_by_role("status")).to_have_text(f"#{ref} is now under review.")
    expect(page.locator("#item-status")).to_have_text("Under review")
    history = page.get_by_role("table", name="Status changes, oldest first")
    expect(cells(history, REVIEW_REASON)).to_have_text([WHEN, "Received", "Under review", REVIEW_REASON, BY_ADMIN])
    shots.take(page, "inbox-item-under-review")
    return ref


def publish_a_decision(page: Page, shots: Screenshots, ref: int) -> str:
    """Step 5: a decision in English and Spanish, the item linked as acted on, published through the confirmation
    page. Returns the decision's slug."""
    nav(page, "Decisions")
    page.get_by_role("link", name="Write a decision").click()
    page.get_by_label("Decided by (department)").fill("Parks Department")
    for language, group in DECISION_GROUPS.items():
        fieldset = page.get_by_role("group", name=group)
        for name, label in DECISION_LABELS.items():
            fieldset.get_by_label(label, exact=True).fill(DECISION[name][language])
    shots.take(page, "decision-form")
    page.get_by_role("button", name="Save the draft").click()
    expect(page.get_by_role("status")).to_have_text("Draft saved.")
    expect(page.locator("#decision-status")).to_have_text("draft")
    slug = urlsplit(page.url).path.rsplit("/", 1)[-1]

    page.get_by_label("Link items (references, separated by commas)").fill(str(ref))
    page.get_by_label("Outcome", exact=True).select_option(label="Acted on")
    page.get_by_role("button", name="Link the items").click()
    expect(page.get_by_role("status")).to_have_text(f"Linked #{ref}.")
    linked = page.get_by_role("table", name="Linked input items").get_by_role("row").filter(has_text=IDEA)
    expect(linked.get_by_label(f"Outcome of #{ref}")).to_have_value("acted_on")
    expect(page.locator("#contributions")).to_have_text("1")
    # The preview of what Spanish residents will read: the Spanish summary in the Spanish catalog's sentence.
    preview = page.get_by_role("table", name="The notification in each language, with its SMS cost")
    expect(preview.get_by_role("row", name=re.compile(r"^Español \(es\)"))).to_contain_text(DECISION["summary"][ES])
    shots.take(page, "decision-draft")

    page.get_by_role("link", name="Publish…").click()
    expect(page.locator("#publish-summary")).to_have_text(
        "Publishing moves 1 linked item to their outcome and tells 1 resident, once each, in their language."
    )
    expect(cells(page.get_by_role("table", name="Residents told, by channel"), "telegram")).to_have_text(
        ["telegram", "1"]
    )
    expect(cells(page.get_by_role("table", name="Residents told, by language"), "Español")).to_have_text(
        ["Español (es)", "1"]
    )
    shots.take(page, "decision-confirm")
    page.get_by_role("button", name="Publish and tell 1 resident").click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile(r"^Published\. 1 items? moved to their outcome; 1 residents? will be told\.$")
    )
    expect(page.locator("#decision-status")).to_have_text("published")
    shots.take(page, "decision-published")
    return slug


def resident_is_told_in_spanish(resident: TelegramResident, public_url: str, slug: str, ref: int) -> None:
    """Step 6: the notification arrives on Telegram in Spanish, with the resident's reference; ESTADO <ref> answers
    with the decision and its page."""
    (notice,) = resident.receives(1)
    link = f"{public_url}/public/decisions/{slug}?lang=es"
    told = catalog("es", NOTICE_REF, program=PROGRAM, summary=DECISION["summary"][ES], url=link, ref=ref)
    assert message_text(notice) == told  # with the reference the resident was given
    resident.say(f"ESTADO {ref}")
    (status,) = resident.receives(1)
    decided = catalog("es", DECIDED_TEXTS["acted_on"], ref=ref, decision=DECISION["title"][ES])
    assert message_text(status) == f"{decided}\n{link}"  # what was decided, and where to read it


def public_page_in_spanish_and_arabic(page: Page, shots: Screenshots) -> None:
    """Step 7: /public?lang=es shows the decision with its contribution count; the language switcher leads to
    the Arabic page, laid out right to left."""
    page.goto("/public?lang=es")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    decision = page.get_by_role("article", name=DECISION["title"][ES])
    expect(decision).to_contain_text(DECISION["summary"][ES])
    expect(decision).to_contain_text(DECISION["changed"][ES])
    contributions = catalog_plural(
        "es", "Based on {n} contribution from residents", "Based on {n} contributions from residents", 1
    )
    expect(decision.locator(".contributions")).to_have_text(contributions)
    expect(page.get_by_text(IDEA)).to_have_count(0)  # not marked publishable: the resident's words stay private
    shots.take(page, "public-spanish")

    switcher = page.locator("nav.public-languages")
    expect(switcher.get_by_role("link")).to_have_count(6)
    expect(switcher.get_by_role("link", name="Español")).to_have_attribute("aria-current", "true")
    switcher.get_by_role("link", name="العربية").click()
    expect(page).to_have_url(re.compile(r"/public\?lang=ar$"))
    expect(page.locator("html")).to_have_attribute("lang", "ar")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("navigation", name=catalog("ar", "Language"))).to_be_visible()
    expect(switcher.get_by_role("link", name="العربية")).to_have_attribute("aria-current", "true")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        catalog("ar", "{program}: what we heard and what we did", program=PROGRAM)
    )
    # No Arabic text was written: the decision falls back to English, its count still shown.
    expect(page.get_by_role("article", name=DECISION["title"][EN])).to_be_visible()
    assert page.locator("main").evaluate("e => getComputedStyle(e).direction") == "rtl"
    shots.take(page, "public-arabic")


def item_shows_the_outcome(page: Page, shots: Screenshots, ref: int) -> None:
    """Step 8: the inbox item is now acted on, the decision's reason in its history."""
    page.goto(f"/dashboard/inbox/{ref}")
    expect(page.locator("#item-status")).to_have_text("Acted on")
    history = page.get_by_role("table", name="Status changes, oldest first")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(cells(history, REVIEW_REASON)).to_have_text([WHEN, "Received", "Under review", REVIEW_REASON, BY_ADMIN])
    reason = f"Decision: {DECISION['title'][EN]}"
    expect(cells(history, reason)).to_have_text([WHEN, "Under review", "Acted on", reason, BY_ADMIN])
    cited = page.get_by_role("link", name=DECISION["title"][EN])
    expect(cited).to_be_visible()
    expect(page.get_by_text("(published; acted on)")).to_be_visible()
    shots.take(page, "inbox-item-acted-on")
