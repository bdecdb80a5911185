"""A newcomer's first word in their language is answered in that language: every HELP and STOP word that only one
language other than English has (AYUDA, ALTO, AIDE, 帮助, مساعدة, GIÚP…) gets the answer a resident of that
language gets, without setting their language; Twilio's and English words (STOP, HELP) keep the program's."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sqlalchemy import select

from bot.conversation.keywords import _WORDS_BY_LANGUAGE, VIETNAMESE, Keyword, keyword_language
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.models import Address, Resident
from tests.support.chat import Chat

_numbers = itertools.count(1)
ANSWERED = (Keyword.HELP, Keyword.OPT_OUT)
WORDS = sorted(
    {(keyword, language, word) for keyword in ANSWERED for language, words in _WORDS_BY_LANGUAGE[keyword].items()
     for word in words}
    | {(keyword, "vi", word) for keyword in ANSWERED for word in VIETNAMESE[keyword]}
)  # fmt: skip


def test_the_words_are_there() -> None:
    languages = {language for _keyword, language, word in WORDS if keyword_language(word) == language}
    assert languages == {"es", "fr", "zh_Hans", "ar", "vi"}


def test_a_newcomers_help_or_stop_word_is_answered_in_its_language(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    checked = 0
    for _keyword, language, word in WORDS:
        own = keyword_language(word)
        if language == "en":
            assert own is None, word  # everyone's word: the program's language
            continue
        if own is None:
            continue  # a word two languages share
        assert own == language, word
        number = f"+1415555{next(_numbers):04d}"
        said = chat(Channel.SMS, number).texts(word)
        expected = chat(Channel.SMS, f"+1415556{next(_numbers):04d}", language_hint=language).texts(word)
        assert said == expected, (word, said, expected)
        with runtime.db.transaction() as session:
            resident = session.scalars(select(Resident).join(Address).where(Address.value == number)).one()
            assert resident.locale is None  # told in their language, not yet chosen
        checked += 1
    assert checked >= 40, checked
