"""Content files: every error at once, each with its file, its place and its line; YAML syntax errors name the file
and line; identifiers (an option's value, an id) are text as written, never booleans or numbers; a slug says what is
wrong with it; the paths that load a file still refuse it at its first error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.cli.content import file_problems
from bot.conversation.flows.loader import parse_yaml, place_lines, place_text
from bot.conversation.flows.schema import FlowError, content_slug, flow_problems, parse_flow
from bot.engagement.polls.definition import compile_poll, poll_problems
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import Answer
from tests.support.chat import Chat

SEVERAL_ERRORS = """\
kind: poll
spec_version: 1
slug: Health Priorities!
title: {en: Health, es: Salud}
questions:
  - id: q1
    kind: single
    text: {en: "Best?"}
    options:
      - {value: a, label: {"*": A}}
      - {value: b, label: {"*": B}}
  - id: q1
    kind: single
    text: {"*": "Again?"}
    options:
      - {value: a, label: {"*": A}}
      - value: a
        label: {en: B}
      - [not, an, option]
  - id: q3
    kind: nonsense
    text: {"*": "x"}
  - id: q4
    kind: text
    text: {"*": "Why?"}
    optional: no
    max_length: lots
thanks: {"*": Thanks}
"""

# (line, where, part of the problem), in the order of the file
SEVERAL_EXPECTED = [
    (3, "slug", "slug 'Health Priorities!': use 1 to 50 lower-case letters, digits, - or _"),
    (4, "title", "title is missing languages ['zh_Hans', 'vi', 'ar', 'fr']"),
    (8, "questions[1].text", "text is missing languages ['es', 'zh_Hans', 'vi', 'ar', 'fr']"),
    (12, "questions[2].id", "the id 'q1' is used twice: question 1 has it too"),
    (17, "questions[2].options[2].value", "choice values must be unique: 'a'"),
    (18, "questions[2].options[2].label", "label is missing languages"),
    (19, "questions[2].options[3]", "an option is a mapping with a value and a label"),
    (21, "questions[3].kind", "kind must be one of single, multi, ranking, rating, yes_no, text"),
    (26, "questions[4].optional", "optional must be true or false, got 'no'"),
    (27, "questions[4].max_length", "max_length must be a whole number from 1 to 10,000"),
]


def _lines(problems: list[str], path: Path) -> list[tuple[int, str, str]]:
    """`FILE:LINE: where: problem` lines taken apart."""
    parts = []
    for problem in problems:
        assert problem.startswith(f"{path}:"), problem
        line, where, said = problem.removeprefix(f"{path}:").split(": ", 2)
        parts.append((int(line), where, said))
    return parts


def test_every_error_of_a_poll_file_at_once_with_its_place_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SEVERAL_ERRORS, encoding="utf-8")
    found = _lines(file_problems(path), path)
    assert [(line, where) for line, where, _said in found] == [(line, where) for line, where, _ in SEVERAL_EXPECTED]
    for (_line, _where, said), (_l, _w, expected) in zip(found, SEVERAL_EXPECTED, strict=True):
        assert expected in said, (said, expected)
    assert "e.g. 'health-priorities'" in found[0][2]
    result = CliRunner().invoke(main, ["flows", "validate", str(path)])
    assert result.exit_code == 1, result.output
    assert [line for line in result.output.splitlines() if line] == file_problems(path)


def test_the_first_error_is_what_compile_and_load_refuse_with(tmp_path: Path) -> None:
    document = parse_yaml(SEVERAL_ERRORS)
    with pytest.raises(FlowError) as caught:
        compile_poll(document)
    assert str(caught.value) == str(poll_problems(document)[0])
    assert str(caught.value).startswith("poll: slug 'Health Priorities!'")
    path = tmp_path / "bad.yaml"
    path.write_text(SEVERAL_ERRORS, encoding="utf-8")
    result = CliRunner().invoke(main, ["flows", "load", str(path)])
    assert result.exit_code == 1 and result.output.count(f"{path}:") == len(SEVERAL_EXPECTED), result.output


DUPLICATES = """\
kind: poll
spec_version: 1
slug: twice
title: {"*": Twice}
questions:
  - {id: same, kind: yes_no, text: {"*": "One?"}}
  - {id: other, kind: yes_no, text: {"*": "Two?"}}
  - {id: same, kind: yes_no, text: {"*": "Three?"}}
thanks: {"*": Thanks}
"""


def test_a_question_id_given_twice_is_refused_where_it_comes_again(tmp_path: Path) -> None:
    document = parse_yaml(DUPLICATES)
    (error,) = poll_problems(document)
    assert error.place == ("questions", 2, "id")
    assert str(error) == "poll 'twice', question 'same': the id 'same' is used twice: question 1 has it too"
    with pytest.raises(FlowError, match="used twice"):
        compile_poll(document)
    path = tmp_path / "twice.yaml"
    path.write_text(DUPLICATES, encoding="utf-8")
    assert file_problems(path) == [f"{path}:8: questions[3].id: the id 'same' is used twice: question 1 has it too"]


FLOW = """\
spec_version: 1
slug: x
start: a
nodes:
  a:
    kind: ask-text
    text: Hi
    skippable: maybe
    max_length: 0
    next: b
  b: {kind: teleport}
  c:
    kind: ask-choice
    text: Pick
    next: d
    choices:
      - {value: one, label: {"*": One}, next: nowhere}
      - {label: {"*": Two}}
  d: {kind: end}
"""


def test_every_error_of_a_flow_file_at_once_node_by_node_and_key_by_key(tmp_path: Path) -> None:
    problems = flow_problems(parse_yaml(FLOW))
    assert [error.place for error in problems] == [
        ("nodes", "a", "skippable"),
        ("nodes", "a", "max_length"),
        ("nodes", "b", "kind"),
        ("nodes", "c", "choices", 1, "value"),
    ]
    assert str(problems[0]) == "flow 'x', node 'a': skippable must be true or false, got 'maybe'"
    assert str(problems[3]) == "flow 'x', node 'c', choice 2: needs a value"
    path = tmp_path / "flow.yaml"
    path.write_text(FLOW, encoding="utf-8")
    assert [(line, where) for line, where, _said in _lines(file_problems(path), path)] == [
        (8, "nodes.a.skippable"),
        (9, "nodes.a.max_length"),
        (11, "nodes.b.kind"),
        (18, "nodes.c.choices[2].value"),  # no value: the line of the choice
    ]
    with pytest.raises(FlowError) as caught:
        parse_flow(parse_yaml(FLOW))
    assert str(caught.value) == str(problems[0])


def test_a_flow_whose_nodes_pass_is_checked_as_a_whole() -> None:
    loose = FLOW.replace("    skippable: maybe\n    max_length: 0\n", "")
    loose = loose.replace("{kind: teleport}", "{kind: send, text: Bye, next: d}")
    loose = loose.replace('      - {label: {"*": Two}}\n', '      - {value: two, label: {"*": Two}}\n')
    (error,) = flow_problems(parse_yaml(loose))
    assert error.place == ("nodes", "c") and str(error) == "flow 'x', node 'c': goes to 'nowhere', which is not a node"
    orphan = loose.replace("next: nowhere", "next: d")
    assert [(error.place, error.problem) for error in flow_problems(parse_yaml(orphan))] == [
        (("nodes", "c"), "cannot be reached from start")
    ]
    whole = orphan.replace("text: Bye, next: d", "text: Bye, next: c")
    assert flow_problems(parse_yaml(whole)) == []
    assert list(parse_flow(parse_yaml(whole)).nodes) == ["a", "b", "c", "d"]


EVENT = """\
kind: event
spec_version: 1
slug: Town Hall
timezone: Mars/Olympus
starts_at: 2026-12-19T18:00
ends_at: sometime
capacity: 0
title: {en: Town hall}
place: {"*": Eastside Community Center}
"""


def test_every_error_of_an_event_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "event.yaml"
    path.write_text(EVENT, encoding="utf-8")
    assert [(line, where) for line, where, _said in _lines(file_problems(path), path)] == [
        (3, "slug"),
        (4, "timezone"),
        (6, "ends_at"),
        (7, "capacity"),
        (8, "title"),
    ]
    assert "slug 'Town Hall': use 1 to 50 lower-case letters" in file_problems(path)[0]


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: poll\nslug: x\ntitle: [unclosed\n", encoding="utf-8")
    (problem,) = file_problems(path)
    assert problem.startswith(f"{path}:3: cannot be read as YAML") and "<unicode string>" not in problem
    path.write_text("kind: poll\nslug: x\nquestions:\n  - id: a\n    id: b\n", encoding="utf-8")
    (problem,) = file_problems(path)
    assert problem.startswith(f"{path}:5: cannot be read as YAML") and "'id' is given twice" in problem
    result = CliRunner().invoke(main, ["flows", "validate", str(path)])
    assert result.exit_code == 1 and result.output.strip() == problem


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("", "give a slug: use 1 to 50 lower-case letters, digits, - or _"),
        (
            "a" * 51,
            "slug 'aaaaaaaaaaaaaaaaaaaaaaaa...' has 51 characters: use 1 to 50 lower-case letters, digits, - or _",
        ),
        (
            "Health Priorities!",
            "slug 'Health Priorities!': use 1 to 50 lower-case letters, digits, - or _ (it has capitals, ' ', '!'), "
            "e.g. 'health-priorities'",
        ),
        (
            "café/menu",
            "slug 'café/menu': use 1 to 50 lower-case letters, digits, - or _ (it has '/', 'é'), e.g. 'cafe-menu'",
        ),
        (
            "-menu",
            "slug '-menu': use 1 to 50 lower-case letters, digits, - or _, the first a letter or digit, e.g. 'menu'",
        ),
        (12, "slug 12: use 1 to 50 lower-case letters, digits, - or _"),
    ],
)
def test_a_slug_says_what_is_wrong_with_it(raw: object, said: str) -> None:
    with pytest.raises(FlowError) as caught:
        content_slug("poll", raw)
    assert caught.value.problem == said
    assert content_slug("poll", "clinic_hours-2026") == "clinic_hours-2026"


@pytest.mark.parametrize("kind", ["poll", "event", "flow"])
def test_a_bad_slug_is_named_for_every_kind_of_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(f"kind: {kind}\nspec_version: 1\nslug: Parks & Rec\n", encoding="utf-8")
    assert (
        f"{path}:3: slug: slug 'Parks & Rec': use 1 to 50 lower-case letters, digits, - or _ (it has capitals, ' ', "
        "'&'), e.g. 'parks-rec'"
    ) in file_problems(path)


def test_a_poll_slug_of_fifty_characters_compiles_and_a_stored_flow_keeps_its_old_slug() -> None:
    document = parse_yaml(
        DUPLICATES.replace(
            'id: same, kind: yes_no, text: {"*": "Three?"}', 'id: third, kind: yes_no, text: {"*": "3?"}'
        )
    )
    document["slug"] = "p" * 50
    fields, flow = compile_poll(document)
    assert fields["slug"] == "p" * 50 and parse_flow(flow).slug == "poll-" + "p" * 50
    legacy = {"spec_version": 1, "slug": "Old_Intake", "start": "a", "nodes": {"a": {"kind": "end"}}}
    assert parse_flow(legacy).slug == "Old_Intake"  # stored before the slug rule: it still runs
    assert [error.place for error in flow_problems(legacy)] == [("slug",)]  # as a file, it is refused


def test_where_each_place_starts_in_a_file() -> None:
    text = (
        "kind: poll\n"
        "labels: &yes_no\n"
        "  - {value: yes, label: {'*': Yes}}\n"
        "  - {value: no, label: {'*': No}}\n"
        "questions:\n"
        "  - id: a\n"
        "    options: *yes_no\n"
        "  -\n"
        "    id: b\n"
    )
    line = place_lines(text)
    assert line(()) == 1
    assert line(("questions",)) == 5
    assert line(("questions", 0)) == 6
    assert line(("questions", 1)) == 9  # where its mapping starts
    assert line(("questions", 1, "id")) == 9
    assert line(("questions", 0, "options", 1, "value")) == 4  # through the alias, where the option is written
    assert line(("questions", 1, "text")) == 9  # not given: where its question starts
    assert line(("questions", 7, "id")) == 5  # no such question: the list
    assert place_text(("questions", 1, "options", 0, "value")) == "questions[2].options[1].value"
    assert place_text(("nodes", "ask", "choices", 2)) == "nodes.ask.choices[3]"


def test_identifiers_are_text_as_written_and_only_true_and_false_are_booleans() -> None:
    document = parse_yaml(
        "a: yes\nb: no\nc: on\nd: true\ne: False\n"
        "options:\n"
        "  - {value: yes, label: {'*': 1}}\n"
        "  - {value: 1, words: [no, 2, 0x1F]}\n"
        "  - {value: 010}\n"
        "  - {value: 1.50}\n"
        "  - {value: true}\n"
        "  - {value: ~}\n"
        "  - {value: }\n"
        "id: 12:30\n"
        "1: numbered key\n"
        "max_length: 010\n"
    )
    assert {key: document[key] for key in "abcde"} == {"a": "yes", "b": "no", "c": "on", "d": True, "e": False}
    assert document["options"] == [
        {"value": "yes", "label": {"*": "1"}},
        {"value": "1", "words": ["no", "2", "0x1F"]},
        {"value": "010"},
        {"value": "1.50"},
        {"value": "true"},
        {"value": None},
        {"value": None},
    ]
    assert document["id"] == "12:30" and document["1"] == "numbered key"
    assert document["max_length"] == 8  # a number where a number belongs (YAML's octal, as before)


YES_NO_POLL = """\
kind: poll
spec_version: 1
slug: agree
title: {"*": Agree}
keywords: {en: AGREE}
questions:
  - id: agree
    kind: single
    text: {"*": "Do you agree?"}
    options:
      - {value: yes, label: {"*": "I agree"}}
      - {value: no, label: {"*": "I do not"}}
      - {value: on, label: {"*": "Turned on"}}
      - {value: 1, label: {"*": "One"}}
thanks: {"*": Thanks}
"""


def test_yes_and_no_are_words_end_to_end(tmp_path: Path, runtime: Runtime, chat: Callable[..., Chat]) -> None:
    """`value: yes` is the option "yes" (YAML 1.1 made it True, stored "True") in the stored flow, and a resident
    typing no picks no."""
    path = tmp_path / "agree.yaml"
    path.write_text(YES_NO_POLL, encoding="utf-8")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    for command in (["flows", "validate", str(path)], ["flows", "load", str(path)], ["polls", "open", "agree"]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 0, result.output
    with runtime.db.transaction() as session:
        runtime.flows.refresh(session)
        flow = runtime.flows.get(session, runtime.flows.latest["poll-agree"])
    assert [choice.value for choice in flow.nodes["agree"].choices] == ["yes", "no", "on", "1"]
    resident = chat(Channel.SMS, "+14155550190")
    for text in ("hi", "1", "yes", "skip"):
        resident.send(text)
    asked = resident.texts("AGREE")[-1]
    assert "1 I agree\n2 I do not\n3 Turned on\n4 One" in asked
    resident.send("no")
    with runtime.db.transaction() as session:
        (answer,) = session.scalars(select(Answer)).all()
    assert answer.value["value"] == "no"
