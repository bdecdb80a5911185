"""Choices as residents type them on SMS and Telegram, in six languages (one, several, a ranking; by number, name
or a word of it), and the text handling every answer parser shares; anything doubtful parses to None."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.conversation.text import fold
from bot.i18n.negotiation import SUPPORTED_LOCALES

MAX_FOLDED = 500  # no real poll answer is longer; longer text is not an answer
_MAX_PARSES = 16  # more readings of one message than this: it is too ambiguous to act on
_AMBIGUOUS = -1
_MOST_RESOLVED = 4096  # pieces of answers remembered per question (the same few words come again and again)


@dataclass(frozen=True)
class Option:
    """One choice of a question: the value stored, its label per locale ("*" for any), and extra synonyms."""

    value: str
    labels: Mapping[str, str]
    words: tuple[str, ...] = ()


# Variation selectors, the keycap mark (4️⃣ -> 4) and skin tones (👍🏽 -> 👍) carry no meaning here.
_DROP = frozenset([0xFE0E, 0xFE0F, 0x20E3, *range(0x1F3FB, 0x1F400)])


def prep_text(text: str) -> str:
    """Compatibility forms (１２３), every script's digits (١٢٣, ۱۲۳) as ASCII, emoji modifiers gone."""
    out: list[str] = []
    for ch in unicodedata.normalize("NFKC", text).replace("\U0001f51f", "10"):
        if ord(ch) in _DROP:
            continue
        digit = unicodedata.decimal(ch, None)
        out.append(ch if digit is None else str(digit))
    return "".join(out)


def normalise(text: str) -> str:
    return fold(prep_text(text))


def folded_words(words: Iterable[str]) -> frozenset[str]:
    return frozenset(f for f in (normalise(w) for w in words) if f)


def _wide(ch: str) -> bool:
    """A CJK character: a word of its own, with no spaces around it."""
    return ch.isalpha() and unicodedata.east_asian_width(ch) in ("W", "F")


def atom_spans(folded: str) -> list[tuple[int, int]]:
    """Spans a piece may start or end at: letter runs, digit runs, each CJK character or symbol, Arabic و+word."""
    spans: list[tuple[int, int]] = []
    i, n = 0, len(folded)
    while i < n:
        ch = folded[i]
        if ch == " ":
            i += 1
            continue
        j = i + 1
        if ch.isascii() and ch.isdigit():
            while j < n and folded[j].isascii() and folded[j].isdigit():
                j += 1
        elif (ch.isalpha() or unicodedata.category(ch).startswith("M")) and not _wide(ch):
            while j < n and (folded[j].isalpha() or unicodedata.category(folded[j]).startswith("M")):
                if _wide(folded[j]) or (folded[j].isascii() and folded[j].isdigit()):
                    break
                j += 1
            if ch == "و" and j - i >= 3:  # Arabic "and" is written onto the next word: والموز
                spans.append((i, i + 1))
                i += 1
        spans.append((i, j))
        i = j
    return spans


def segment(
    folded: str, cap: int, item: Callable[[str], int | None], sep: Callable[[str], bool]
) -> set[tuple[int, ...]]:
    """Every reading of the text as items and separators with the fewest pieces (an empty set: no reading)."""
    atoms = atom_spans(folded)
    # best[j][last] = (pieces, readings); last: 0 nothing yet, 1 an item, 2 a separator. None readings: too many.
    best: list[dict[int, tuple[int, set[tuple[int, ...]] | None]]] = [{} for _ in range(len(atoms) + 1)]
    best[0][0] = (0, {()})

    def offer(j: int, last: int, count: int, readings: set[tuple[int, ...]] | None) -> None:
        old = best[j].get(last)
        if old is None or count < old[0]:
            best[j][last] = (count, readings)
        elif count == old[0]:
            merged = None if old[1] is None or readings is None else old[1] | readings
            best[j][last] = (count, merged if merged is not None and len(merged) <= _MAX_PARSES else None)

    for j in range(1, len(atoms) + 1):
        for i in range(j - 1, -1, -1):
            if atoms[j - 1][1] - atoms[i][0] > cap:
                break
            if not best[i]:
                continue
            piece = folded[atoms[i][0] : atoms[j - 1][1]]
            value, is_sep = item(piece), sep(piece)
            for last, (count, readings) in best[i].items():
                if value is not None:
                    offer(j, 1, count + 1, None if readings is None else {(*r, value) for r in readings})
                if is_sep and last != 0:
                    offer(j, 2, count + 1, readings)
    final = best[-1].get(1)
    if final is None or final[1] is None:
        return set()
    return final[1]


def _distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance: insertions, deletions, substitutions and adjacent transpositions."""
    inf = len(a) + len(b)
    d = [[inf] * (len(b) + 2)] + [[inf] + [0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i + 1][1] = i
    for j in range(len(b) + 1):
        d[1][j + 1] = j
    last_row: dict[str, int] = {}
    for i in range(1, len(a) + 1):
        last_col = 0
        for j in range(1, len(b) + 1):
            k, m = last_row.get(b[j - 1], 0), last_col
            cost = 0 if a[i - 1] == b[j - 1] else 1
            if cost == 0:
                last_col = j
            transposed = d[k][m] + (i - k - 1) + 1 + (j - m - 1)
            d[i + 1][j + 1] = min(d[i][j] + cost, d[i + 1][j] + 1, d[i][j + 1] + 1, transposed)
        last_row[a[i - 1]] = i
    return d[len(a) + 1][len(b) + 1]


def _tolerance(folded: str) -> int:
    """Typos forgiven: none below 4 characters or in CJK (one character is a whole word), 1 up to 7, then 2."""
    if len(folded) < 4 or any(_wide(ch) for ch in folded):
        return 0
    return 1 if len(folded) <= 7 else 2


# "2", "#2", "option 2", "opción 2", "số 2", "选项2", "第2个", "الخيار 2" (after fold and _prep).
_NUMBER = re.compile(
    r"(?:(?:option|opt|choice|number|num|nr|n|n°|numero|opcion|choix|so|lua chon|phuong an|"
    r"选项|選項|选|選|第|خيار|الخيار|رقم) ?)?(\d{1,6})(?: ?[个個项項号號])?"
)
_NUMBER_AND_NAME = re.compile(r"(\d{1,6}) ?([^\d ].*)|(.*[^\d ]) ?(\d{1,6})")
_AND = folded_words(["and", "&", "+", "y", "et", "và", "和", "及", "与", "و"])
_THEN = _AND | folded_words([">", "→", "»", "then", "luego", "puis", "rồi", "然后", "ثم"])
_ALL = folded_words(["all", "all of them", "everything", "todos", "todas", "todo", "tous", "toutes", "tout"])
_ALL |= folded_words(["tất cả", "全部", "所有", "都", "الكل", "كلها", "كلهم"])
_RANGE = re.compile(r"\d+(?:\s*[-–—~]\s*\d+)+")


def _numbers_in(folded: str) -> set[int]:
    return {int(run) for run in re.findall(r"\d{1,6}", folded)}


def whole_number(folded: str) -> int | None:
    match = _NUMBER.fullmatch(folded)
    return int(match.group(1)) if match else None


class _Choices:
    """The options of one question, indexed by every folded name a resident may use for them."""

    def __init__(self, options: Sequence[Option], locale: str) -> None:
        self.count = len(options)
        self.primary: dict[str, set[int]] = {}  # the resident's locale, "*", synonyms, the value itself
        self.secondary: dict[str, set[int]] = {}  # every other supported locale
        self.typo_names: list[tuple[str, int]] = []
        for index, option in enumerate(options):
            for key, label in option.labels.items():
                if key in ("*", locale) or locale.startswith(f"{key}_"):
                    self._add(self.primary, label, index)
                elif key in SUPPORTED_LOCALES:
                    self._add(self.secondary, label, index)
            for word in option.words:
                self._add(self.primary, word, index)
            self.primary.setdefault(normalise(option.value), set()).add(index)
        self.cap = max((len(name) for name in (*self.primary, *self.secondary)), default=0) + 8
        self.cache: dict[str, int | None] = {}

    def _add(self, table: dict[str, set[int]], text: str, index: int) -> None:
        name = normalise(text)
        if name:
            table.setdefault(name, set()).add(index)
            self.typo_names.append((name, index))

    def exact(self, piece: str) -> set[int]:
        found = set(self.primary.get(piece, ()))
        number = whole_number(piece)
        if number is not None and 1 <= number <= self.count:
            # "2" when the options read "1", "2", "3+": option 2, or the one that says 2? Both, so ask again.
            found |= {number - 1} | {i for name, i in self.typo_names if number in _numbers_in(name)}
        return found or set(self.secondary.get(piece, ()))

    def near(self, piece: str) -> set[int]:
        tolerance, digits = _tolerance(piece), [ch for ch in piece if ch.isdigit()]
        return {
            index
            for name, index in self.typo_names
            if tolerance
            and abs(len(name) - len(piece)) <= tolerance
            and [ch for ch in name if ch.isdigit()] == digits
            and _distance(piece, name) <= tolerance
        }

    def resolve(self, piece: str) -> int | None:
        """The option a piece of an answer names; None if none, _AMBIGUOUS if more than one."""
        if piece not in self.cache:
            found = self.exact(piece)
            if not found:  # "2 Apple", copied back from the menu line, names option 2 if 2 is Apple
                match = _NUMBER_AND_NAME.fullmatch(piece)
                if match:
                    number, name = (match.group(1), match.group(2)) if match.group(1) else match.group(4, 3)
                    named = self.exact(name.strip()) or self.near(name.strip())
                    found = named if named == {int(number) - 1} else set()
            if not found and piece not in _THEN:  # "then" is a separator, not a typo for "the"
                found = self.near(piece)
            if len(self.cache) >= _MOST_RESOLVED:
                self.cache.clear()
            self.cache[piece] = None if not found else found.pop() if len(found) == 1 else _AMBIGUOUS
        return self.cache[piece]

    def letters(self, folded: str, separators: frozenset[str]) -> tuple[int, ...] | None:
        """Options by letter ("a c", "a and c") when the whole answer is single letters; else None."""
        pieces = [folded[start:end] for start, end in atom_spans(folded)]
        if not pieces or pieces[0] in separators or pieces[-1] in separators:
            return None
        picked = [p for p in pieces if p not in separators]
        if not picked or not all(len(p) == 1 and "a" <= p <= "z" for p in picked):
            return None
        out: list[int] = []
        for letter in picked:
            found = self.exact(letter) | ({ord(letter) - 97} if ord(letter) - 97 < self.count else set())
            out.append(found.pop() if len(found) == 1 else _AMBIGUOUS)
        return tuple(out)

    def readings(self, answer: str, separators: frozenset[str], *, letters: bool) -> set[tuple[int, ...]]:
        prepped = prep_text(answer)
        folded = fold(prepped)
        if not folded or len(folded) > MAX_FOLDED:
            return set()
        if any(not self.exact(fold(r)) for r in _RANGE.findall(prepped) if len(re.findall(r"\d+", r)) == 2):
            return set()  # "1-3" might be a range: ask again rather than guess
        by_letter = self.letters(folded, separators) if letters else None
        if by_letter is not None:
            readings = {by_letter}
        else:
            readings = segment(folded, self.cap, self.resolve, separators.__contains__)
        return set() if any(_AMBIGUOUS in r for r in readings) else readings


_BUILT: dict[tuple[int, str], tuple[Sequence[Option], _Choices]] = {}
_MOST_BUILT = 512


def _choices(options: Sequence[Option], locale: str) -> _Choices:
    """The index of a question's options in a locale, built once per question (flows are parsed once per process
    and never change, so their options are the same objects every time) and kept with what it has resolved."""
    key = (id(options), locale)
    built = _BUILT.get(key)
    if built is not None and built[0] is options:
        return built[1]
    if len(_BUILT) >= _MOST_BUILT:
        _BUILT.clear()
    choices = _Choices(options, locale)
    _BUILT[key] = (options, choices)
    return choices


def parse_single(answer: str, options: Sequence[Option], locale: str) -> str | None:
    """The one option an answer names by number, label (any supported language), synonym or a near typo."""
    chosen = {frozenset(r) for r in _choices(options, locale).readings(answer, _AND, letters=False)}
    if len(chosen) != 1:
        return None
    (only,) = chosen
    return options[next(iter(only))].value if len(only) == 1 else None


def parse_multi(
    answer: str, options: Sequence[Option], locale: str, max_choices: int | None = None
) -> tuple[str, ...] | None:
    """The options an answer names ("1,3", "1 and 3", "a c", "all"), in the options' order; None if in doubt."""
    choices = _choices(options, locale)
    folded = normalise(answer)
    if folded in _ALL and not choices.exact(folded):
        chosen: set[frozenset[int]] = {frozenset(range(len(options)))}
    else:
        chosen = {frozenset(r) for r in choices.readings(answer, _AND, letters=True)}
    if len(chosen) != 1:
        return None
    (picked,) = chosen
    if not picked or (max_choices is not None and len(picked) > max_choices):
        return None
    return tuple(options[i].value for i in sorted(picked))


def parse_ranking(answer: str, options: Sequence[Option], locale: str, max_ranked: int = 5) -> tuple[str, ...] | None:
    """Distinct options in the resident's order ("3 1 2", "3>1>2", "c a b"), at most max_ranked; else None."""
    readings = _choices(options, locale).readings(answer, _THEN, letters=True)
    if len(readings) != 1:
        return None
    (order,) = readings
    if not order or len(set(order)) != len(order) or len(order) > max_ranked:
        return None
    return tuple(options[i].value for i in order)
