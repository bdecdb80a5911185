"""A yes/no question shown on SMS as "1 Yes / 2 No" takes the numbers too, in every digit style."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import InputItem
from tests.support.chat import Chat


@pytest.mark.parametrize(("reply", "may_contact"), [("1", True), ("2", False), ("١", True), ("２", False)])
def test_feedback_contact_question_by_number(
    runtime: Runtime, chat: Callable[..., Chat], reply: str, may_contact: bool
) -> None:
    resident = chat(Channel.SMS, "+14155550131")
    for text in ("hi", "1", "1", "skip", "FEEDBACK", "The clinic closes too early.", "1"):
        resident.send(text)
    (answer,) = resident.texts(reply)
    assert answer.startswith("Thank you! Your reference is #"), answer
    with runtime.db.transaction() as session:
        assert session.scalars(select(InputItem.may_contact)).one() is may_contact


def test_other_numbers_are_asked_again(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    resident = chat(Channel.SMS, "+14155550132")
    for text in ("hi", "1", "1", "skip", "FEEDBACK", "Too few buses.", "skip"):
        resident.send(text)
    (again,) = resident.texts("3")
    assert again.startswith("Please reply 1 for yes or 2 for no.")
