"""The first message's language (issue 17): how often a newcomer's first text preselects their language, measured on
tests/i18n/first_messages/ (what residents really text first to a public-health number, 300+ per language), and
that the guess is only ever a preselection: the language menu always asks, and nothing is switched."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.conversation.flows.context import FlowContext
from bot.conversation.flows.engine import SetField, advance, start
from bot.conversation.flows.loader import shipped_flows
from bot.conversation.flows.schema import Flow
from bot.conversation.keywords import all_keywords, keyword_language
from bot.i18n.detection import MIN_HAN, MIN_WORDS, readable_part, says_enough, suggest_locale
from bot.i18n.negotiation import NATIVE_NAMES, SUPPORTED_LOCALES
from bot.messages import Channel
from bot.pipeline.sender import first_message_locale
from bot.runtime import Runtime
from bot.store.models import Resident
from tests.support.chat import Chat

FIRST_MESSAGES = Path(__file__).parent / "first_messages"
MIN_MESSAGES = 300
MIN_ACCURACY = 0.95  # on messages of 3 words or more (4 Han characters), per language and overall
MAX_WRONG = 0.01  # a wrong preselection (the resident then picks another number) is rarer still
MAX_DETECTOR_MB = 30  # serve stays under 150 MB RSS (about 125 MB without the detector)


@cache
def first_messages(locale: str) -> tuple[str, ...]:
    """One language's fixture: one message a line."""
    text = (FIRST_MESSAGES / f"{locale}.txt").read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line.strip())


@dataclass
class Tally:
    """How the guesses went for a set of messages."""

    right: int = 0
    unsure: int = 0  # None: the usual menu
    wrong: int = 0

    @property
    def total(self) -> int:
        """The messages counted."""
        return self.right + self.unsure + self.wrong

    def add(self, guess: str | None, locale: str) -> None:
        """Count one guess."""
        if guess == locale:
            self.right += 1
        elif guess is None:
            self.unsure += 1
        else:
            self.wrong += 1

    def accuracy(self) -> float:
        """The share preselected right."""
        return self.right / self.total if self.total else 0.0


@cache
def tallies() -> dict[str, tuple[Tally, Tally]]:
    """Per language: (messages long enough to guess from, all messages)."""
    found: dict[str, tuple[Tally, Tally]] = {}
    for locale in SUPPORTED_LOCALES:
        long_enough, every = Tally(), Tally()
        for message in first_messages(locale):
            guess = suggest_locale(message)
            every.add(guess, locale)
            if says_enough(readable_part(message)):
                long_enough.add(guess, locale)
        found[locale] = (long_enough, every)
    return found


def _row(name: str, long_enough: Tally, every: Tally) -> str:
    cells = [f"{t.total:>5} {t.accuracy():>7.1%} {t.unsure:>5} {t.wrong:>5}" for t in (long_enough, every)]
    return f"{name:<8} {cells[0]}   {cells[1]}"


def test_each_fixture_is_real_looking_and_large_enough() -> None:
    for locale in SUPPORTED_LOCALES:
        messages = first_messages(locale)
        assert len(messages) >= MIN_MESSAGES, f"{locale}: {len(messages)} first messages"
        assert len(set(messages)) >= len(messages) * 0.98, f"{locale}: repeated messages"
        short = sum(not says_enough(readable_part(m)) for m in messages)
        assert short >= 10, f"{locale}: too few one- or two-word messages ({short})"


def test_accuracy_on_messages_of_three_words_or_more() -> None:
    table = tallies()
    columns = [f"{n:>5} {'right':>7} {'none':>5} {'wrong':>5}" for n in ("3+ n", "all n")]
    header = f"{'language':<8} {columns[0]}   {columns[1]}"
    lines = [header, *(_row(locale, *table[locale]) for locale in SUPPORTED_LOCALES)]
    overall_long, overall_every = Tally(), Tally()
    for long_enough, every in table.values():
        for total, part in ((overall_long, long_enough), (overall_every, every)):
            total.right, total.unsure, total.wrong = (
                total.right + part.right,
                total.unsure + part.unsure,
                total.wrong + part.wrong,
            )
    lines.append(_row("overall", overall_long, overall_every))
    print("\nFirst-message language, preselected right (3+ words / 4+ Han characters, and all lengths):")
    print("\n".join(lines))
    for locale, (long_enough, _every) in table.items():
        assert long_enough.accuracy() >= MIN_ACCURACY, f"{locale}: {long_enough}"
        assert long_enough.wrong <= MAX_WRONG * long_enough.total, f"{locale}: {long_enough}"
    assert overall_long.accuracy() >= MIN_ACCURACY


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_short_messages_are_never_guessed(locale: str) -> None:
    short = [m for m in first_messages(locale) if not says_enough(readable_part(m))]
    assert short
    assert [m for m in short if suggest_locale(m) is not None] == []


@pytest.mark.parametrize(
    "text",
    [
        "hi",
        "ok",
        "👍",
        "Hola",
        "si",
        "OK!",
        "STOP",
        "1",
        "2 3",
        "你好",
        "你好吗",
        "Xin chào",
        "مرحبا",
        "hi 👋 😊",
        "94110",
    ],
)
def test_too_little_to_tell(text: str) -> None:
    assert suggest_locale(text) is None


def test_the_thresholds_are_words_and_han_characters() -> None:
    assert MIN_WORDS == 3
    assert MIN_HAN == 4
    assert suggest_locale("我想问疫苗") == "zh_Hans"
    assert suggest_locale("quiero información vacunas") == "es"


def test_a_keyword_tells_a_language_only_by_its_own_word() -> None:
    """A keyword says what the resident wants, and its word alone (AYUDA, ALTO, 帮助) may say their language; its
    other words are never read (lingua is not asked about a keyword), and everyone's words (STOP, HELP) say none."""
    keywords = [word for words in all_keywords().values() for word in words]
    assert "ayuda" in keywords
    for word in keywords:
        for said in (word, word.upper()):
            assert first_message_locale(said) == keyword_language(said), said
    assert [first_message_locale(w) for w in ("STOP", "HELP", "AYUDA", "ALTO", "帮助", "مساعدة")] == [
        None, None, "es", "es", "zh_Hans", "ar",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("START quiero información sobre las vacunas", "es"),  # a copied command word does not count
        ("HELP me please", None),  # two words once HELP is set aside
        ("toi muon hoi ve tiem ngua", "vi"),  # Vietnamese typed without its marks
        ("ana bidi ma3lumat 3an el 3iyade", None),  # Arabic in Latin letters: not guessed
        ("Is the clinic open? https://example.org/clinic 415-555-0100", "en"),
    ],
)
def test_what_is_read(text: str, expected: str | None) -> None:
    assert suggest_locale(text) == expected


def _onboarding() -> Flow:
    return next(shipped.flow for shipped in shipped_flows() if shipped.flow.slug == "onboarding")


def _newcomer(suggested: str | None) -> FlowContext:
    facts = {"consent": "pending", "locale": "en", "locale_known": "no", "suggested_locale": suggested}
    return FlowContext("en", facts, {"program": "Eastside Health Voices", "messages_per_month": "4"})


def test_no_first_message_is_answered_in_a_language_without_the_menu_asking() -> None:
    """Every fixture message, in every language: the first answer is the language menu with all six languages, the
    guessed one (if any) first; nothing sets the resident's language until they answer it."""
    flow = _onboarding()
    for locale in SUPPORTED_LOCALES:
        for message in first_messages(locale):
            guess = suggest_locale(message)
            step = start(flow, _newcomer(guess))
            assert step.node == flow.start, message
            assert not [e for e in step.effects if isinstance(e, SetField)], message
            (menu,) = step.replies
            assert menu.choices[0].value == (guess or SUPPORTED_LOCALES[0]), message
            assert sorted(c.value for c in menu.choices) == sorted(SUPPORTED_LOCALES), message


@pytest.mark.parametrize("guess", SUPPORTED_LOCALES)
def test_one_picks_the_guess_and_other_numbers_the_others(guess: str) -> None:
    flow = _onboarding()
    asked = start(flow, _newcomer(guess))
    numbered = [c.value for c in asked.replies[0].choices]
    assert numbered[0] == guess
    assert asked.replies[0].direction == ("rtl" if guess == "ar" else "ltr")
    for number, value in enumerate(numbered, 1):
        later = _newcomer(None)  # the next message: the guess is in the conversation's state only
        step = advance(flow, flow.start, asked.state, str(number), later)
        assert SetField("locale", value) in step.effects
    said_yes = advance(flow, flow.start, asked.state, "sí", _newcomer(None))
    assert SetField("locale", guess) in said_yes.effects
    by_name = advance(flow, flow.start, asked.state, NATIVE_NAMES["fr"], _newcomer(None))
    assert SetField("locale", "fr") in by_name.effects


def test_a_menu_not_understood_asks_again_in_the_guessed_language() -> None:
    flow = _onboarding()
    asked = start(flow, _newcomer("ar"))
    step = advance(flow, flow.start, asked.state, "ربما", _newcomer(None))
    assert step.node == flow.start
    assert not step.effects
    (hint,) = step.replies
    assert hint.direction == "rtl"
    assert "1" in hint.text and "6" in hint.text


def test_through_the_pipeline_the_language_stays_unchosen(chat: Callable[..., Chat], runtime: Runtime) -> None:
    """A first SMS in Spanish: the menu in Spanish with Spanish first, the resident's language still unset; "1" sets
    it. A Telegram hint wins over the text."""
    resident = chat(Channel.SMS, "+14155550199")
    (menu,) = resident.texts("Hola, quiero información sobre las vacunas")
    assert menu.splitlines()[1] == "1 Español"
    with runtime.db.transaction() as session:
        assert session.scalars(select(Resident.locale)).one() is None
    resident.send("1")
    with runtime.db.transaction() as session:
        assert session.scalars(select(Resident.locale)).one() == "es"
    hinted = chat(Channel.TELEGRAM, "5550199", language_hint="fr")
    (asked,) = hinted.send("Hola, quiero información sobre las vacunas")
    assert "Español" not in asked.text.splitlines()[0]


def test_the_detector_is_small() -> None:
    """Measured in a fresh process: RSS before and after building the detector and reading a first message."""
    script = (
        "import bot.i18n.detection as d\n"
        "def rss():\n"
        "    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')) / 1024\n"
        "before = rss(); d.suggest_locale('Hola, quiero información sobre las vacunas'); print(rss() - before)\n"
    )
    grown = float(subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout)
    print(f"\ndetector: +{grown:.1f} MB RSS")
    assert grown < MAX_DETECTOR_MB
