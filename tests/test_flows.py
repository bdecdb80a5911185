"""Flow documents: every broken flow is rejected with an error naming its node; the engine is pure and bounded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po

from bot.conversation.flows import engine
from bot.conversation.flows.context import FlowContext, match_choice
from bot.conversation.flows.loader import builtin_documents, checksum, load_file
from bot.conversation.flows.schema import FlowError, parse_flow
from bot.i18n.extract import flow_messages

BROKEN = sorted((Path(__file__).parent / "flows" / "broken").glob("*.yaml"))


def _expected(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <part of the error>'"
    return first.removeprefix("# expect: ")


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_flow_is_rejected_with_a_clear_error(path: Path) -> None:
    with pytest.raises(FlowError) as caught:
        load_file(path)
    message = str(caught.value)
    assert message.startswith(path.name), message
    assert _expected(path) in message


def test_there_are_many_broken_flows() -> None:
    assert len(BROKEN) >= 15


def ctx(locale: str = "en", consent: str = "pending") -> FlowContext:
    return FlowContext(
        locale=locale,
        resident={"consent": consent, "locale": locale, "area": None},
        params={"program": "P", "frequency": "F", "contact": "C"},
    )


FLOW = parse_flow(
    yaml.safe_load("""
spec_version: 1
slug: sample
start: pick
nodes:
  pick:
    kind: ask-choice
    text: {"*": "Pick a fruit"}
    save_as: fruit
    choices:
      - {value: apple, label: {en: Apple, es: Manzana, zh_Hans: 苹果, vi: Táo, ar: تفاح, fr: Pomme}, words: [pomme]}
      - {value: pear, label: {en: Pear, es: Pera, zh_Hans: 梨, vi: Lê, ar: كمثرى, fr: Poire}}
    next: remember
  remember: {kind: set-field, field: fields.fruit, value: $answer, next: why}
  why: {kind: ask-text, text: {"*": "Why?"}, save_as: why, skippable: true, next: check}
  check:
    kind: branch
    conditions: [{field: answers.fruit, equals: apple, next: apple_end}]
    default: bye
  apple_end: {kind: send, text: {"*": "Apples!"}, next: done}
  bye: {kind: send, text: {"*": "Bye"}, next: done}
  done: {kind: end}
""")
)


def test_engine_walks_a_flow_and_returns_effects_without_io() -> None:
    step = engine.start(FLOW, ctx())
    assert step.node == "pick"
    assert [r.text for r in step.replies] == ["Pick a fruit"]
    assert [c.label for c in step.replies[0].choices] == ["Apple", "Pear"]
    step = engine.advance(FLOW, "pick", step.state, "Pomme", ctx())
    assert step.node == "why"
    assert step.effects == (engine.SetField("fields.fruit", "apple"),)
    step = engine.advance(FLOW, "why", step.state, "crunchy", ctx())
    assert step.ended
    assert [r.text for r in step.replies] == ["Apples!"]


@pytest.mark.parametrize(
    ("answer", "value"),
    [
        ("1", "apple"),
        (" 2 ", "pear"),
        ("PEAR", "pear"),
        ("pera", "pear"),
        ("Manzana", "apple"),
        ("pomme", "apple"),
        ("3", None),
        ("0", None),
        ("", None),
        ("banana", None),
        ("1 2", None),
    ],
)
def test_choices_are_matched_by_number_label_in_locale_value_or_word(answer: str, value: str | None) -> None:
    assert match_choice(FLOW.nodes["pick"], answer, ctx("es")) == value


def test_a_stale_or_forged_button_value_is_not_an_answer() -> None:
    assert match_choice(FLOW.nodes["pick"], "banana", ctx(), is_button=True) is None
    assert match_choice(FLOW.nodes["pick"], "1", ctx(), is_button=True) is None
    assert match_choice(FLOW.nodes["pick"], "pear", ctx(), is_button=True) == "pear"


def test_three_misses_skip_the_question_instead_of_looping() -> None:
    step = engine.start(FLOW, ctx())
    for attempt in (1, 2):
        step = engine.advance(FLOW, "pick", step.state, "banana", ctx())
        assert step.node == "pick"
        assert step.state["attempts"] == attempt
        assert "number from 1 to 2" in step.replies[0].text
    step = engine.advance(FLOW, "pick", step.state, "banana", ctx())
    assert step.node == "why"
    assert step.replies[0].text == "Let's move on."


def test_skip_word_in_any_language_skips_a_skippable_text_question() -> None:
    state = engine.advance(FLOW, "pick", engine.start(FLOW, ctx()).state, "2", ctx()).state
    step = engine.advance(FLOW, "why", state, "OMITIR", ctx("es"))
    assert step.ended
    assert step.state["answers"]["why"] is None


def test_engine_is_deterministic() -> None:
    first = engine.advance(FLOW, "pick", {"answers": {}}, "1", ctx())
    second = engine.advance(FLOW, "pick", {"answers": {}}, "1", ctx())
    assert first == second


def test_builtin_flows_are_valid_and_their_texts_are_in_the_catalog() -> None:
    documents = builtin_documents()
    assert "onboarding" in documents
    with (Path(__file__).parent.parent / "locales" / "messages.pot").open("rb") as handle:
        catalog = read_po(handle)
    for document in documents.values():
        for message in flow_messages(document):
            assert message in catalog, f"{message!r} is not in locales/messages.pot: run make i18n"


def test_checksum_ignores_key_order() -> None:
    assert checksum({"a": 1, "b": [1, 2]}) == checksum({"b": [1, 2], "a": 1})
    assert checksum({"a": 1}) != checksum({"a": 2})
