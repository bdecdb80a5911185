"""Content files: every error at once, each with its file and line; YAML syntax errors name the file and line; words
like yes and no are text, never booleans; a slug says what is wrong with it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.cli.content import file_problems
from bot.conversation.flows.loader import parse_yaml
from bot.conversation.flows.schema import FlowError, content_slug, flow_problems
from bot.messages import Channel
from bot.runtime import Runtime
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
      - {value: b, label: {"*": B}}
  - id: q3
    kind: nonsense
    text: {"*": "x"}
thanks: {"*": Thanks}
"""

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
thanks: {"*": Thanks}
"""


def test_every_error_of_a_poll_file_at_once_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SEVERAL_ERRORS, encoding="utf-8")
    problems = file_problems(path)
    assert [p.split(": ", 1)[0] for p in problems] == [
        f"{path}:3",
        f"{path}:4",
        f"{path}:6",
        f"{path}:12",
        f"{path}:18",
    ]
    assert "the slug 'Health Priorities!' has ' ' '!'" in problems[0] and "e.g. 'health-priorities'" in problems[0]
    assert "title: missing languages" in problems[1]
    assert "question 2: the id 'q1' is used twice" in problems[3]
    assert "kind must be one of" in problems[4]
    result = CliRunner().invoke(main, ["flows", "validate", str(path)])
    assert result.exit_code == 1 and result.output.count(f"{path}:") == 5, result.output


def test_every_error_of_a_flow_file_at_once(tmp_path: Path) -> None:
    document = parse_yaml(
        "spec_version: 1\nslug: x\nstart: a\nnodes:\n  a: {kind: ask-text, text: Hi, skippable: maybe, next: b}\n"
        "  b: {kind: teleport}\n  c: {kind: end}\n"
    )
    problems = flow_problems(document)
    assert [p.node for p in problems] == ["a", "b"]
    path = tmp_path / "flow.yaml"
    flow = "spec_version: 1\nslug: x\nstart: a\nnodes:\n  a: {kind: ask-text, text: Hi, skippable: maybe, next: b}\n"
    path.write_text(flow + "  b: {kind: end}\n")
    assert file_problems(path)[0].startswith(f"{path}:5: flow 'x', node 'a': skippable must be true or false")


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("kind: poll\nslug: x\ntitle: [unclosed\n", encoding="utf-8")
    (problem,) = file_problems(path)
    assert problem.startswith(f"{path}:3: cannot be read as YAML") and "<unicode string>" not in problem


@pytest.mark.parametrize("raw", ["", "a" * 51, "Parks & Rec", "café/menu"])
def test_a_slug_says_what_is_wrong_with_it(raw: str) -> None:
    with pytest.raises(FlowError) as caught:
        content_slug("poll", raw)
    message = str(caught.value)
    assert "a slug is 1 to 50 letters, digits, - and _" in message
    if raw and len(raw) <= 50:
        assert repr(raw) in message and "e.g." in message


def test_yes_and_no_are_words_in_a_content_file(tmp_path: Path, runtime: Runtime, chat: Callable[..., Chat]) -> None:
    """`value: yes` is the option "yes" (YAML 1.1 made it True, stored "True"), and a resident typing no picks no."""
    assert parse_yaml("a: yes\nb: no\nc: on\nd: true\ne: False\n") == {
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": True,
        "e": False,
    }
    path = tmp_path / "agree.yaml"
    path.write_text(YES_NO_POLL, encoding="utf-8")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    for command in (["flows", "load", str(path)], ["polls", "open", "agree"]):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 0, result.output
    resident = chat(Channel.SMS, "+14155550190")
    for text in ("hi", "1", "yes", "skip"):
        resident.send(text)
    asked = resident.texts("AGREE")[-1]
    assert "1 I agree\n2 I do not\n3 Turned on" in asked
    resident.send("no")
    from sqlalchemy import select

    from bot.store.engagement import Answer

    with runtime.db.transaction() as session:
        (answer,) = session.scalars(select(Answer)).all()
    assert answer.value["value"] == "no"
