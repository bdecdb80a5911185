"""No ordinary word is taken for a keyword (issue 12): every word of tests/words/ (over 300 common words in each of
the six languages: yes/no/ok, greetings, names, places, and look-alikes of the keywords), in any case, with or without
its marks, is run through the router's keyword reading (bot.conversation.opt_out.read_keyword).

- It opts a resident out only when the word is an opt-out form in its own language (tests/words/commands.txt).
- Folding never makes a word a keyword it is not: a variant without marks means what the word itself means, or
  nothing (or it is asked about, and nothing changes).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.conversation.keywords import Keyword
from bot.conversation.opt_out import StopRequest, read_keyword
from bot.conversation.text import plain

WORDS = Path(__file__).parent / "words"
LANGUAGES = ("en", "es", "fr", "vi", "ar", "zh")


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


LISTS = {language: _lines(WORDS / f"{language}.txt") for language in LANGUAGES}
COMMANDS = {tuple(line.split("\t", 1)) for line in _lines(WORDS / "commands.txt")}


def _bare(word: str) -> str:
    """The word as typed on a keyboard without marks (Vietnamese đ included)."""
    decomposed = unicodedata.normalize("NFKD", word.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _variants(word: str) -> Iterator[str]:
    for form in (word, _bare(word)):
        yield from dict.fromkeys((form, form.upper(), form.capitalize(), f"{form}!", f" {form}. "))


def test_the_lists_are_long_enough_and_name_real_entries() -> None:
    for language, words in LISTS.items():
        assert len(words) >= 300, (language, len(words))
        assert len(set(words)) == len(words), language
    unknown = [(language, word) for language, word in COMMANDS if word not in LISTS.get(language, [])]
    assert unknown == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_ordinary_word_opts_out(language: str) -> None:
    wrong = [
        (word, variant)
        for word in LISTS[language]
        for variant in _variants(word)
        if read_keyword(variant)[0] is Keyword.OPT_OUT and (language, word) not in COMMANDS
    ]
    assert wrong == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("opted_out", [False, True], ids=["subscribed", "stopped"])
def test_folding_never_makes_a_word_another_keyword(language: str, opted_out: bool) -> None:
    wrong = []
    for word in LISTS[language]:
        meant, _request = read_keyword(word, opted_out=opted_out)
        for variant in _variants(word):
            heard, _request = read_keyword(variant, opted_out=opted_out)
            if heard is not None and heard is not meant:
                wrong.append((word, variant, heard.value, meant and meant.value))
    assert wrong == []


def test_every_opt_out_command_in_the_lists_stops_with_its_marks() -> None:
    missed = [(language, word) for language, word in COMMANDS if read_keyword(word)[0] is not Keyword.OPT_OUT]
    assert missed == []


def test_what_is_asked_about_is_unmarked_or_a_typo() -> None:
    """A word written with its marks is never asked about: the question is for bare forms that could be two words."""
    asked = [
        word
        for words in LISTS.values()
        for word in words
        if plain(word) != plain(_bare(word)) and read_keyword(word)[1] is StopRequest.ASK
    ]
    assert asked == []
