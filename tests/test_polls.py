"""Polls and feedback through the real pipeline: every question kind, lifecycle, resuming, results, STATUS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.conversation.flows.loader import read_document
from bot.engagement.polls import definition as poll_store
from bot.engagement.polls.tally import poll_results
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import Answer, InputItem, Poll
from tests.support.chat import Chat

ROOT = Path(__file__).resolve().parents[1]
ALL_KINDS = ROOT / "tests" / "polls" / "all_kinds.yaml"
DEMO = ROOT / "bot" / "engagement" / "demo" / "health-priorities.yaml"


def load(runtime: Runtime, path: Path, status: str = "open") -> None:
    with runtime.db.transaction() as session:
        poll, _version = poll_store.load_poll(session, read_document(path), runtime.flows, runtime.clock)
        poll_store.set_status(session, poll.slug, status, runtime.clock.now())


def joined(
    chat: Callable[..., Chat], channel: Channel = Channel.SMS, address: str = "+14155550100", language: str = "1"
) -> Chat:
    resident = chat(channel, address)
    resident.send("hi")
    resident.send(language, button=False)
    resident.send("yes")
    resident.send("skip")
    return resident


def answers(runtime: Runtime) -> dict[str, object]:
    with runtime.db.transaction() as session:
        return {a.question: a.value["value"] for a in session.scalars(select(Answer))}


def test_every_question_kind_is_understood_and_recorded(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    load(runtime, ALL_KINDS)
    resident = joined(chat)
    assert resident.texts("KINDS")[0].startswith("Favourite fruit?\n1 Apple")
    days = resident.texts("mango")[0]
    assert "Which days suit you?" in days
    assert "more than one" in days
    assert "Rank these" in resident.texts("1 and 3")[0]
    assert "How was the last event?" in resident.texts("3,1")[0]
    again = resident.texts("4")[0]
    assert again.startswith("Would you come again?\n1 Yes\n2 No")
    assert resident.texts("yes")[0] == "Anything else?"
    assert resident.texts("More benches please")[0] == "Thanks!"
    assert answers(runtime) == {
        "fruit": "mango",
        "days": ["mon", "sat"],
        "order": ["clinics", "parks"],
        "stars": 4,
        "again": True,
        "words": "More benches please",
    }
    with runtime.db.transaction() as session:
        item = session.scalars(select(InputItem)).one()
        assert (item.kind, item.text, item.status, item.topic) == ("poll", "More benches please", "received", "words")


def test_three_misses_skip_a_question_and_ambiguity_asks_again(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    load(runtime, ALL_KINDS)
    resident = joined(chat)
    resident.send("POLL")
    first = resident.texts("7")[0]
    assert first.startswith("Sorry, I didn't understand. Please reply with a number from 1 to 3.")
    resident.send("banana")
    skipped = resident.texts("kiwi")
    assert skipped[0] == "Let's move on."
    assert "Which days suit you?" in skipped[1]
    assert "fruit" not in answers(runtime)


def test_an_answer_can_be_changed_while_open_and_counts_once(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    load(runtime, DEMO)
    resident = joined(chat)
    for first in ("1", "2"):
        resident.send("HEALTH")
        resident.send(first)
        resident.send("5 4")
        resident.send("skip")
    assert answers(runtime) == {"top_need": "mental_health", "ranking": ["safe_streets", "clean_air"], "idea": None}
    with runtime.db.transaction() as session:
        poll = session.scalars(select(Poll)).one()
        flow = runtime.flows.get(session, runtime.flows.latest["poll-health-priorities"])
        results = {r.question: r for r in poll_results(session, poll, flow)}
    assert results["top_need"].respondents == 1
    assert [o.count for o in results["top_need"].options] == [0, 1, 0, 0, 0]


def test_a_closed_poll_says_so_and_a_draft_is_not_offered(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    load(runtime, DEMO, status="draft")
    resident = joined(chat)
    assert "no open poll" in resident.texts("POLL")[0]
    with runtime.db.transaction() as session:
        poll_store.set_status(session, "health-priorities", "open", runtime.clock.now())
    assert resident.texts("POLL")
    with runtime.db.transaction() as session:
        poll = poll_store.set_status(session, "health-priorities", "closed", runtime.clock.now())
        poll.results_url = "https://example.org/results"
    assert resident.texts("HEALTH") == [
        "This poll is closed. Thank you for your interest! See the results: https://example.org/results"
    ]
    assert "no open poll" in resident.texts("POLL")[0]


def test_an_interrupted_poll_resumes_where_it_stopped(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    load(runtime, ALL_KINDS)
    resident = joined(chat)
    resident.send("POLL")
    resident.send("apple")
    assert resident.texts("MENU")[0].startswith("What you can do:")
    assert "Which days suit you?" in resident.texts("POLL")[0]
    help_text = resident.texts("HELP")
    assert "Msg & data rates may apply" in help_text[0]
    assert "more than one" in help_text[1]
    resident.send("LANGUAGE")
    spanish = resident.texts("2")
    assert spanish[0].startswith("Tu idioma ahora es español")
    assert "¿Qué días te convienen?" in spanish[-1]
    assert "Rank" not in resident.texts("lunes")[0]
    assert answers(runtime)["days"] == ["mon"]
    resident.send("STOP")
    assert resident.send("1") == []


def test_buttons_on_telegram(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    load(runtime, ALL_KINDS)
    resident = chat(Channel.TELEGRAM, "42", language_hint="es")
    resident.send("hola")
    resident.send("es", button=True)
    resident.send("yes", button=True)
    resident.send("omitir")
    fruit = resident.send("TIPOS")[0]
    assert fruit.text == "¿Fruta favorita?"
    assert fruit.buttons == [("apple", "Manzana"), ("mango", "Mango"), ("pear", "Pera")]
    resident.send("pear", button=True)
    resident.send("1 3")
    stars = resident.send("3 1 2")[0]
    assert [value for value, _ in stars.buttons] == ["1", "2", "3", "4", "5"]
    resident.send("5", button=True)
    assert answers(runtime)["stars"] == 5
    assert answers(runtime)["fruit"] == "pear"


def test_feedback_gets_a_reference_and_status_answers_only_its_author(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    resident = joined(chat)
    assert resident.texts("FEEDBACK")[0].startswith("What would you like to tell us?")
    assert "What is it mostly about?" in resident.texts("The bus stop on 5th has no shade or bench.")[0]
    assert "May our team contact you" in resident.texts("6")[0]
    thanks = resident.texts("yes")[0]
    with runtime.db.transaction() as session:
        item = session.scalars(select(InputItem)).one()
        assert (item.kind, item.topic, item.may_contact, item.status) == ("feedback", "other", True, "received")
        assert item.text == "The bus stop on 5th has no shade or bench."
    assert f"#{item.ref}" in thanks
    assert 1000 <= item.ref <= 9999
    assert resident.texts(f"STATUS {item.ref}") == [f"#{item.ref}: we received it and will review it soon."]
    stranger = joined(chat, address="+14155550199")
    assert "could not find" in stranger.texts(f"status #{item.ref}")[0]


@pytest.mark.parametrize("word", ["COMENTARIO", "avis", "GÓP Ý", "反馈", "رأي"])
def test_feedback_keyword_in_every_language(runtime: Runtime, chat: Callable[..., Chat], word: str) -> None:
    resident = joined(chat)
    assert "What would you like to tell us?" in resident.texts(word)[0]


def test_a_long_feedback_split_by_the_carrier_is_joined(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = joined(chat)
    resident.send("FEEDBACK")
    first = "The bus stop on 5th street has no shade and no bench, and older people wait there in the heat for a "
    first += "long time every afternoon; last summer, somebody fain"
    assert len(first) == 153
    assert "What is it mostly about?" in resident.texts(first)[0]
    assert resident.send("ted there. Please add a shelter.") == []  # the second part, seconds later: no reply
    assert resident.send("Also more benches") == []
    resident.send("4")
    resident.send("no")
    with runtime.db.transaction() as session:
        item = session.scalars(select(InputItem)).one()
    assert item.text == first + "ted there. Please add a shelter.\nAlso more benches"
    assert item.topic == "safety"


def test_parts_are_not_joined_after_the_window(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from datetime import timedelta

    from bot.clock import FixedClock

    clock = FixedClock()
    runtime.clock = runtime.pipeline.clock = clock
    resident = joined(chat)
    resident.send("FEEDBACK")
    resident.send("Short note about the clinic hours")
    clock.at += timedelta(seconds=60)
    assert "Sorry, I didn't understand" in resident.texts("and the parking")[0]


def test_a_stale_button_asks_the_current_question_again(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    load(runtime, ALL_KINDS)
    resident = chat(Channel.TELEGRAM, "42", language_hint="en")
    for text, button in (("hi", False), ("en", True), ("yes", True), ("skip", False), ("KINDS", False)):
        resident.send(text, button=button)
    first_question = dict(resident.pressable)
    resident.send("apple", button=True)
    stale = resident.send(first_question["pear"], button=True)  # the fruit question's button, pressed again
    assert "Which days suit you?" in stale[0].text
    assert "Sorry" not in stale[0].text
    assert answers(runtime) == {"fruit": "apple"}
