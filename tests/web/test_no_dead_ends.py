"""No dead ends: a form sent with something wrong comes back as the same page, the error beside that form and what
was typed still there — never the bare error page that only links to the overview."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape

from starlette.testclient import TestClient

from bot.engagement.decisions import publishing as decisions
from bot.messages import Channel
from bot.runtime import Runtime
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.support.voices import give_feedback, join

DEAD_END = "Back to the overview"


def _sent_back(response_text: str, form: str) -> str:
    """The error shown beside the form (its id is the form's name), or fail with what the page said."""
    found = re.search(rf'<p class="error" id="{form}-error" role="alert">(.*?)</p>', response_text)
    assert found, response_text[:2000]
    assert DEAD_END not in response_text
    return unescape(found.group(1))


def _item(runtime: Runtime, chat: Callable[..., Chat]) -> int:
    resident = join(chat, Channel.SMS, "+14155550681", "es")
    return give_feedback(resident, "es", "Faltan intérpretes en la clínica", may_contact=True)


def test_the_item_page_comes_back_with_the_error_and_what_was_typed(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    ref = _item(runtime, chat)
    csrf = sign_in(client, make_user(runtime, "admin"))
    typed = "Because the clinic team asked"
    sent = client.post(f"/dashboard/inbox/{ref}/status", data={"csrf_token": csrf, "status": "closed", "reason": typed})
    assert sent.status_code == 400
    assert f"<h1>Item #{ref}</h1>" in sent.text
    assert _sent_back(sent.text, "status")
    assert typed in sent.text  # the reason is still in the field
    blank = client.post(f"/dashboard/inbox/{ref}/status", data={"csrf_token": csrf, "status": "under_review"})
    assert "reason" in _sent_back(blank.text, "status").lower()
    reply = client.post(f"/dashboard/inbox/{ref}/reply", data={"csrf_token": csrf, "text": "  "})
    assert reply.status_code == 400 and _sent_back(reply.text, "reply")
    assign = client.post(f"/dashboard/inbox/{ref}/assign", data={"csrf_token": csrf, "user": "999999"})
    assert _sent_back(assign.text, "assign") == "Choose a user from the list."


def test_the_decision_page_comes_back_with_the_error_and_what_was_typed(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    ref = _item(runtime, chat)
    with runtime.db.transaction() as session:
        fields = decisions.DecisionFields(texts={"title": {"en": "Interpreters"}, "summary": {"en": "More of them."}})
        slug = decisions.create(session, fields, "en", "test", runtime.clock.now()).slug
    csrf = sign_in(client, make_user(runtime, "admin"))
    typed = f"{ref}, 99999999"
    sent = client.post(
        f"/dashboard/decisions/{slug}/items", data={"csrf_token": csrf, "refs": typed, "outcome": "acted_on"}
    )
    assert sent.status_code == 400
    assert "99999999" in _sent_back(sent.text, "items")
    assert f'value="{typed}"' in sent.text
    edit = {"csrf_token": csrf, "title_en": "", "summary_en": "Kept as typed", "decided_by": "Health board"}
    edited = client.post(f"/dashboard/decisions/{slug}/edit", data=edit)
    assert _sent_back(edited.text, "edit")
    assert "Kept as typed" in edited.text and 'value="Health board"' in edited.text


def test_the_inbox_comes_back_with_the_bulk_error_and_the_selection(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    ref = _item(runtime, chat)
    csrf = sign_in(client, make_user(runtime, "admin"))
    nothing = client.post("/dashboard/inbox/bulk", data={"csrf_token": csrf, "action": "tag", "tag": "clinic"})
    assert nothing.status_code == 400 and _sent_back(nothing.text, "bulk") == "Select at least one item."
    assert 'value="clinic"' in nothing.text
    form = {
        "csrf_token": csrf,
        "action": "status",
        "status": "under_review",
        "ref": str(ref),
        "back": "/dashboard/inbox",
    }
    no_reason = client.post("/dashboard/inbox/bulk", data=form)
    assert _sent_back(no_reason.text, "bulk")
    assert f'value="{ref}" checked' in no_reason.text  # the selection is kept


def test_the_resident_page_comes_back_with_the_merge_or_erase_error(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    join(chat, Channel.SMS, "+14155550682", "es")
    csrf = sign_in(client, make_user(runtime, "admin"))
    page = client.get("/dashboard/residents/1")
    assert page.status_code == 200
    merged = client.post("/dashboard/residents/1/merge", data={"csrf_token": csrf, "other": "1"})
    assert merged.status_code == 400 and _sent_back(merged.text, "merge")
    assert 'value="1"' in merged.text
    blank = client.post("/dashboard/residents/1/merge", data={"csrf_token": csrf, "other": "abc"})
    assert _sent_back(blank.text, "merge") == "Give a resident's number."
    erased = client.post("/dashboard/residents/1/erase", data={"csrf_token": csrf, "confirm": "2"})
    assert "to confirm the erasure" in _sent_back(erased.text, "erase")
