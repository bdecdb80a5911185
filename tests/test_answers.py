"""Poll answer parsing: the ways residents really type answers, in six languages, and properties over any text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.conversation.answers import Option, parse_multi, parse_ranking, parse_single
from bot.conversation.scales import NO_WORDS, YES_WORDS, parse_rating, parse_yes_no
from bot.conversation.text import fold
from bot.i18n.negotiation import SUPPORTED_LOCALES
from tests.support.examples import examples

FRUIT = (
    Option("apple", {"en": "Apple", "es": "Manzana", "fr": "Pomme", "vi": "Táo", "zh_Hans": "苹果", "ar": "تفاح"}),
    Option(
        "banana",
        {"en": "Banana", "es": "Plátano", "fr": "Banane", "vi": "Chuối", "zh_Hans": "香蕉", "ar": "موز"},
        words=("guineo",),
    ),
    Option("orange", {"en": "Orange", "es": "Naranja", "fr": "Orange", "vi": "Cam", "zh_Hans": "橙子", "ar": "برتقال"}),
    Option("grape", {"en": "Grapes", "es": "Uvas", "fr": "Raisin", "vi": "Nho", "zh_Hans": "葡萄", "ar": "عنب"}),
)
LANGUAGES = (
    Option("en", {"*": "English"}),
    Option("es", {"*": "Español"}),
    Option("vi", {"*": "Tiếng Việt"}),
)
PEAR_PEER = (Option("pear", {"en": "Pear"}), Option("peer", {"en": "Peer"}))
TOMATO = (Option("tomato", {"en": "Tomatoes"}), Option("potato", {"en": "Potatoes"}))
HOUSEHOLD = (Option("none", {"en": "0"}), Option("few", {"en": "1-2"}), Option("some", {"en": "3"}))
PEOPLE = (Option("p0", {"en": "0"}), Option("p1", {"en": "1"}), Option("p2", {"en": "2"}), Option("p3", {"en": "3+"}))
WHEN = (Option("never", {"en": "Never"}), Option("w1", {"en": "Within 1 week"}), Option("w2", {"en": "Within 2 weeks"}))
LETTERED = (Option("a", {"en": "Plan A"}), Option("b", {"en": "B"}), Option("c", {"en": "Plan C"}))


@pytest.mark.parametrize(
    ("answer", "locale", "expected"),
    [
        # numbers, in every way they are typed
        ("2", "en", "banana"),
        ("#2", "en", "banana"),
        ("2.", "en", "banana"),
        ("2)", "en", "banana"),
        (" option 2 ", "en", "banana"),
        ("Opción 2", "es", "banana"),
        ("choix 2", "fr", "banana"),
        ("số 2", "vi", "banana"),
        ("选项2", "zh_Hans", "banana"),
        ("第2个", "zh_Hans", "banana"),
        ("الخيار ٢", "ar", "banana"),
        ("٣", "ar", "orange"),
        ("۳", "ar", "orange"),
        ("３", "zh_Hans", "orange"),
        ("4️⃣", "en", "grape"),
        ("2 Banana", "en", "banana"),
        ("Banana 2", "en", "banana"),
        # labels in the resident's language and in any other, and synonyms
        ("apple", "en", "apple"),
        ("MANZANA", "es", "apple"),
        ("plátano", "es", "banana"),
        ("platano", "es", "banana"),
        ("pomme", "fr", "apple"),
        ("táo", "vi", "apple"),
        ("tao", "vi", "apple"),
        ("chuoi", "vi", "banana"),
        ("苹果", "zh_Hans", "apple"),
        ("橙子。", "zh_Hans", "orange"),
        ("تفاح", "ar", "apple"),
        ("\u200fموز\u200f", "ar", "banana"),
        ("Manzana", "en", "apple"),
        ("苹果", "ar", "apple"),
        ("guineo", "fr", "banana"),
        ("raisin", "fr", "grape"),
        ("Espanol", "en", "es"),
        ("tieng viet", "vi", "vi"),
        # typos: one edit for 4-7 characters, two for 8 and more
        ("Manzanna", "es", "apple"),
        ("Bananna", "en", "banana"),
        ("banan", "en", "banana"),
        ("Naranaj", "es", "orange"),
        ("Grpaes", "en", "grape"),
        ("Englsih", "en", "en"),
        ("Tomatos", "en", "tomato"),
        # None: out of range, two options, nothing, too far, too short for typos, CJK typos
        ("0", "en", None),
        ("5", "en", None),
        ("option 9", "en", None),
        ("1 3", "en", None),
        ("apple and banana", "en", None),
        ("manzana y plátano", "es", None),
        ("苹果和香蕉", "zh_Hans", None),
        ("2 apple", "en", None),
        ("", "en", None),
        ("!!!", "en", None),
        ("kiwi", "en", None),
        ("uva", "es", None),
        ("苹", "zh_Hans", None),
        ("苹果果", "zh_Hans", None),
        ("2.5", "en", None),
    ],
)
def test_parse_single(answer: str, locale: str, expected: str | None) -> None:
    options = LANGUAGES if expected in {"en", "es", "vi"} else TOMATO if expected == "tomato" else FRUIT
    assert parse_single(answer, options, locale) == expected


@pytest.mark.parametrize(
    ("answer", "options", "expected"),
    [
        ("Pear", PEAR_PEER, "pear"),
        ("peer", PEAR_PEER, "peer"),
        ("peor", PEAR_PEER, None),  # one edit from both
        ("pe@r", PEAR_PEER, None),
        ("pearr", PEAR_PEER, "pear"),  # one edit from pear, two from peer
        ("totatoes", TOMATO, None),  # one edit from both
        ("potatoe", TOMATO, "potato"),
        ("2", HOUSEHOLD, "few"),  # option 2 is "1-2": no doubt
        ("1", HOUSEHOLD, None),  # option 1 is "0", but "1-2" says 1: ask again
        ("3", HOUSEHOLD, "some"),
        ("1-2", HOUSEHOLD, "few"),
        ("0", HOUSEHOLD, "none"),  # not an option number, but a label
        ("2", PEOPLE, None),  # option 2, or the option that says 2?
        ("3", PEOPLE, None),
        ("3+", PEOPLE, "p3"),
        ("4", PEOPLE, "p3"),
        ("1", WHEN, None),
        ("2", WHEN, None),  # option 2 is "Within 1 week", but "Within 2 weeks" says 2
        ("3", WHEN, "w2"),
        ("within 2 weeks", WHEN, "w2"),
        ("b", LETTERED, "b"),
        ("plan c", LETTERED, "c"),
    ],
)
def test_parse_single_doubt(answer: str, options: tuple[Option, ...], expected: str | None) -> None:
    assert parse_single(answer, options, "en") == expected


@pytest.mark.parametrize(
    ("answer", "locale", "max_choices", "expected"),
    [
        ("1,3", "en", None, ("apple", "orange")),
        ("3,1", "en", None, ("apple", "orange")),
        ("1 3", "en", None, ("apple", "orange")),
        ("1 and 3", "en", None, ("apple", "orange")),
        ("1 y 3", "es", None, ("apple", "orange")),
        ("1 et 3", "fr", None, ("apple", "orange")),
        ("1 và 3", "vi", None, ("apple", "orange")),
        ("1和3", "zh_Hans", None, ("apple", "orange")),
        ("1、3", "zh_Hans", None, ("apple", "orange")),
        ("１，３", "zh_Hans", None, ("apple", "orange")),
        ("١ و ٣", "ar", None, ("apple", "orange")),
        ("1&3", "en", None, ("apple", "orange")),
        ("1 + 3", "en", None, ("apple", "orange")),
        ("1;3.", "en", None, ("apple", "orange")),
        ("3, 3, 1", "en", None, ("apple", "orange")),
        ("a c", "en", None, ("apple", "orange")),
        ("A and C", "en", None, ("apple", "orange")),
        ("c, a", "en", None, ("apple", "orange")),
        ("a y c", "es", None, ("apple", "orange")),
        ("b", "en", None, ("banana",)),
        ("apple and orange", "en", None, ("apple", "orange")),
        ("manzana, naranja", "es", None, ("apple", "orange")),
        ("pomme et orange", "fr", None, ("apple", "orange")),
        ("táo và cam", "vi", None, ("apple", "orange")),
        ("苹果和橙子", "zh_Hans", None, ("apple", "orange")),
        ("苹果、橙子", "zh_Hans", None, ("apple", "orange")),
        ("تفاح وبرتقال", "ar", None, ("apple", "orange")),
        ("تفاح و برتقال", "ar", None, ("apple", "orange")),
        ("manzanna y 3", "es", None, ("apple", "orange")),
        ("all", "en", None, ("apple", "banana", "orange", "grape")),
        ("Todos", "es", None, ("apple", "banana", "orange", "grape")),
        ("tous", "fr", None, ("apple", "banana", "orange", "grape")),
        ("Tất cả", "vi", None, ("apple", "banana", "orange", "grape")),
        ("全部", "zh_Hans", None, ("apple", "banana", "orange", "grape")),
        ("الكل", "ar", None, ("apple", "banana", "orange", "grape")),
        ("1 2", "en", 2, ("apple", "banana")),
        # None: unknown piece, out of range, too many, dangling separator, a range, letters mixed with numbers
        ("1 2 3", "en", 2, None),
        ("all", "en", 3, None),
        ("1, 5", "en", None, None),
        ("1 and kiwi", "en", None, None),
        ("1 and", "en", None, None),
        ("a e", "en", None, None),
        ("a 3", "en", None, None),
        ("1-3", "en", None, None),
        ("", "en", None, None),
        ("none", "en", None, None),
    ],
)
def test_parse_multi(answer: str, locale: str, max_choices: int | None, expected: tuple[str, ...] | None) -> None:
    assert parse_multi(answer, FRUIT, locale, max_choices) == expected


def test_parse_multi_letters_that_are_also_labels() -> None:
    assert parse_multi("b", LETTERED, "en") == ("b",)
    assert parse_multi("a b", LETTERED, "en") == ("a", "b")
    assert parse_multi("b a", (Option("x", {"en": "A"}), Option("y", {"en": "Z"})), "en") == ("x", "y")
    assert parse_multi("a", (Option("x", {"en": "B"}), Option("y", {"en": "A"})), "en") is None  # letter a, or "A"?


@pytest.mark.parametrize(
    ("answer", "locale", "max_ranked", "expected"),
    [
        ("3 1 2", "en", 5, ("orange", "apple", "banana")),
        ("3,1,2", "en", 5, ("orange", "apple", "banana")),
        ("3>1>2", "en", 5, ("orange", "apple", "banana")),
        ("3 -> 1 -> 2", "en", 5, ("orange", "apple", "banana")),
        ("3-1-2", "en", 5, ("orange", "apple", "banana")),
        ("c a b", "en", 5, ("orange", "apple", "banana")),
        ("C, A, B", "en", 5, ("orange", "apple", "banana")),
        ("4 2", "en", 5, ("grape", "banana")),
        ("naranja, manzana", "es", 5, ("orange", "apple")),
        ("orange puis pomme", "fr", 5, ("orange", "apple")),
        ("cam rồi táo", "vi", 5, ("orange", "apple")),
        ("橙子、苹果、香蕉", "zh_Hans", 5, ("orange", "apple", "banana")),
        ("٣ ١ ٢", "ar", 5, ("orange", "apple", "banana")),
        ("برتقال ثم تفاح", "ar", 5, ("orange", "apple")),
        ("2 Banana, 1 Apple", "en", 5, ("banana", "apple")),
        ("4 3 2 1", "en", 3, None),
        ("3 1 3", "en", 5, None),
        ("1 1", "en", 5, None),
        ("3 1 9", "en", 5, None),
        ("3 > kiwi", "en", 5, None),
        ("1-3", "en", 5, None),
        ("", "en", 5, None),
    ],
)
def test_parse_ranking(answer: str, locale: str, max_ranked: int, expected: tuple[str, ...] | None) -> None:
    assert parse_ranking(answer, FRUIT, locale, max_ranked) == expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("3", 3),
        (" 3! ", 3),
        ("three", 3),
        ("Tres", 3),
        ("trois", 3),
        ("ba", 3),
        ("三", 3),
        ("ثلاثة", 3),
        ("ثلاثه", 3),
        ("٣", 3),
        ("۳", 3),
        ("３", 3),
        ("4/5", 4),
        ("4 / 5", 4),
        ("4 out of 5", 4),
        ("cuatro de cinco", 4),
        ("4 sur 5", 4),
        ("4 stars", 4),
        ("4 estrellas", 4),
        ("4 étoiles", 4),
        ("4 sao", 4),
        ("4星", 4),
        ("五星", 5),
        ("٤ نجوم", 4),
        ("4 out of 5 stars", 4),
        ("★★★★", 4),
        ("★★★★☆", 4),
        ("⭐⭐", 2),
        ("4️⃣", 4),
        ("one", 1),
        ("năm", 5),
        ("0", None),
        ("6", None),
        ("3.5", None),
        ("3,5", None),
        ("٣٫٥", None),
        ("34", None),
        ("3 4", None),
        ("-3", None),
        ("4/10", None),
        ("six", None),
        ("★★★★★★", None),
        ("★☆", None),
        ("good", None),
        ("", None),
        ("9" * 5000, None),
    ],
)
def test_parse_rating(answer: str, expected: int | None) -> None:
    assert parse_rating(answer) == expected


def test_parse_rating_scales() -> None:
    assert parse_rating("0", 0, 10) == 0
    assert parse_rating("cero", 0, 10) == 0
    assert parse_rating("10", 0, 10) == 10
    assert parse_rating("🔟", 0, 10) == 10
    assert parse_rating("diez", 0, 10) == 10
    assert parse_rating("7/10", 0, 10) == 7
    assert parse_rating("7/5", 0, 10) is None
    assert parse_rating("3", 5, 1) is None


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        *((word, True) for word in ("yes", "Y", "yeah", "yep", "OK", "okay", "sure", "Sí!!", "si", "claro")),
        *((word, True) for word in ("oui", "ouais", "d'accord", "D’accord", "có", "co", "vâng", "vang", "ừ")),
        *((word, True) for word in ("được", "是", "是的", "好", "好的", "对", "可以", "نعم", "ايوه", "أجل")),
        *((word, True) for word in ("👍", "👍🏽", "✅", "✔️", "✔", "yes please", "oui merci", "vâng ạ", "好的，谢谢")),
        *((word, False) for word in ("no", "N", "nope", "nah", "non", "không", "khong", "ko", "不", "不是")),
        *((word, False) for word in ("否", "不要", "لا", "كلا", "👎", "❌", "No.", "no thanks", "non merci")),
        *((word, False) for word in ("لا شكرا", "không ạ", "不是。", "NO!!!")),
        *((word, None) for word in ("", "maybe", "yes no", "si no", "không có", "不好", "👍👎", "quizás", "ok?? no")),
        *((word, None) for word in ("thanks", "yes and no", "yess", "2", "peut-être")),
    ],
)
def test_parse_yes_no(answer: str, expected: bool | None) -> None:
    assert parse_yes_no(answer) is expected


def test_yes_no_words_are_folded_and_disjoint() -> None:
    assert {fold(w) for w in YES_WORDS} == YES_WORDS
    assert {fold(w) for w in NO_WORDS} == NO_WORDS
    assert not YES_WORDS & NO_WORDS
    assert {"yes", "si", "oui", "co", "是", "نعم", "👍"} <= YES_WORDS
    assert {"no", "non", "khong", "不", "لا", "👎"} <= NO_WORDS


# --- properties ---

SURROGATE = st.integers(0xD800, 0xDFFF).map(chr)
ANY_TEXT = st.lists(st.characters() | SURROGATE, max_size=60).map("".join) | st.text(
    alphabet="0123456789١٣۳１ ,.&+>/-*#★☆⭐️⃣yYaAcnoéنولا和是不苹果、，\u200f\u200b\x00\n", max_size=40
)
# Labels that are themselves separator words ("y", "then") make "1 y 3" doubtful, rightly; they are left out here.
SEPARATOR_WORDS = {"and", "y", "et", "va", "then", "luego", "puis", "roi"}
LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyzáéñ", min_size=1, max_size=12).filter(
    lambda label: fold(label) not in SEPARATOR_WORDS
)
OPTIONS = st.lists(LABEL, min_size=1, max_size=12, unique_by=fold).map(
    lambda labels: tuple(Option(f"v{i}", {"en": label, "es": label.upper()}) for i, label in enumerate(labels))
)
SEPARATORS = [",", ", ", " ", " and ", " y ", " et ", " và ", "和", " و ", "&", " + ", "、", "，", " ; ", " & "]


@settings(max_examples=examples(300), deadline=None)
@given(answer=ANY_TEXT, locale=st.sampled_from([*SUPPORTED_LOCALES, "xx", ""]))
def test_no_text_raises(answer: str, locale: str) -> None:
    parse_single(answer, FRUIT, locale)
    parse_multi(answer, FRUIT, locale, max_choices=2)
    parse_ranking(answer, FRUIT, locale)
    parse_rating(answer)
    parse_rating(answer, 0, 10)
    parse_yes_no(answer)


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data(), word=st.text(alphabet="abcdefgh", min_size=4, max_size=12))
def test_equal_distance_to_two_options_is_none(data: st.DataObject, word: str) -> None:
    """Two options each one (or, for 8+ letters, two) edits from the answer: the parser must not pick either."""
    edits = 1 if len(word) < 8 else data.draw(st.sampled_from([1, 2]))

    def neighbour() -> str:
        out = list(word)
        for position in data.draw(st.lists(st.integers(0, len(word) - 1), min_size=edits, max_size=edits, unique=True)):
            out[position] = data.draw(st.sampled_from([c for c in "ijkxyz" if c != out[position]]))
        return "".join(out)

    first, second = neighbour(), neighbour()
    if first == second:
        return
    options = (Option("first", {"en": first}), Option("second", {"en": second}))
    assert parse_single(word, options, "en") is None
    assert parse_single(word.upper(), options, "fr") is None


def _edited(data: st.DataObject, word: str) -> str:
    """The word after one or two random insertions, deletions, substitutions or swaps over the letters a and b."""
    for _ in range(data.draw(st.integers(1, 2))):
        i = data.draw(st.integers(0, len(word)))
        kind = data.draw(st.sampled_from(["insert", "delete", "substitute", "swap"]))
        if kind == "insert" or i == len(word):
            word = word[:i] + data.draw(st.sampled_from("ab")) + word[i:]
        elif kind == "delete":
            word = word[:i] + word[i + 1 :]
        elif kind == "substitute":
            word = word[:i] + data.draw(st.sampled_from("ab")) + word[i + 1 :]
        else:
            word = word[:i] + word[i + 1 : i + 2] + word[i] + word[i + 2 :]
    return word


@settings(max_examples=examples(300), deadline=None)
@given(answer=st.text(alphabet="ab", min_size=3, max_size=10), data=st.data())
def test_no_option_when_equidistant(answer: str, data: st.DataObject) -> None:
    """Whenever the answer is as far from one label as from the other (and is neither), nothing is chosen."""
    a, b = _edited(data, answer), _edited(data, answer)
    if len({answer, a, b}) < 3 or not a or not b or _edits(answer, a) != _edits(answer, b):
        return
    assert parse_single(answer, (Option("x", {"en": a}), Option("y", {"vi": b})), "en") is None
    assert parse_single(answer, (Option("x", {"en": a}), Option("y", {"en": "zzzz"}, words=(b,))), "es") is None


@settings(max_examples=examples(200), deadline=None)
@given(options=OPTIONS, data=st.data())
def test_number_names_its_option(options: tuple[Option, ...], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(options) - 1))
    assert parse_single(str(i + 1), options, data.draw(st.sampled_from(SUPPORTED_LOCALES))) == options[i].value
    assert parse_single(str(len(options) + 1), options, "en") is None


@settings(max_examples=examples(200), deadline=None)
@given(options=OPTIONS, data=st.data())
def test_multi_numbers_give_that_subset(options: tuple[Option, ...], data: st.DataObject) -> None:
    picked = data.draw(st.lists(st.integers(0, len(options) - 1), min_size=1, unique=True))
    separator = data.draw(st.sampled_from(SEPARATORS))
    answer = separator.join(str(i + 1) for i in picked)
    assert parse_multi(answer, options, "en") == tuple(options[i].value for i in sorted(picked))


@settings(max_examples=examples(200), deadline=None)
@given(options=OPTIONS, data=st.data())
def test_ranking_gives_that_order(options: tuple[Option, ...], data: st.DataObject) -> None:
    order = data.draw(st.permutations(range(len(options))))[: data.draw(st.integers(1, len(options)))]
    separator = data.draw(st.sampled_from([" ", ",", ", ", ">", " > ", "、", " then "]))
    answer = separator.join(str(i + 1) for i in order)
    expected = tuple(options[i].value for i in order) if len(order) <= 5 else None
    assert parse_ranking(answer, options, "en") == expected


@settings(max_examples=examples(200), deadline=None)
@given(low=st.integers(0, 5), span=st.integers(0, 10), n=st.integers(-20, 40))
def test_rating_of_a_number(low: int, span: int, n: int) -> None:
    high = low + span
    assert parse_rating(str(n), low, high) == (n if low <= n <= high else None)


def _edits(a: str, b: str, cap: int = 3) -> int:
    """Fewest insertions, deletions, substitutions and adjacent swaps from a to b, counted up to cap (breadth-first)."""
    seen, frontier = {a}, {a}
    for distance in range(cap):
        if b in frontier:
            return distance
        step: set[str] = set()
        for s in frontier:
            for i in range(len(s) + 1):
                step.update(s[:i] + c + s[i:] for c in "ab")
                if i < len(s):
                    step.add(s[:i] + s[i + 1 :])
                    step.update(s[:i] + c + s[i + 1 :] for c in "ab")
                if i + 1 < len(s):
                    step.add(s[:i] + s[i + 1] + s[i] + s[i + 2 :])
        frontier = step - seen
        seen |= step
    return cap
