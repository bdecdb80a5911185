"""Answers on a scale, in every language: a rating ("4", "cuatro", "4/5", "★★★★"), a number, yes or no."""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.conversation.answers import MAX_FOLDED, atom_spans, folded_words, normalise, prep_text, segment, whole_number

# fmt: off
_NUMBER_WORDS: dict[int, tuple[str, ...]] = {
    0: ("zero", "cero", "zéro", "không", "零", "〇", "صفر"),
    1: ("one", "uno", "una", "un", "une", "một", "一", "واحد", "واحدة"),
    2: ("two", "dos", "deux", "hai", "二", "两", "兩", "اثنان", "اثنين", "إثنان", "إثنين"),
    3: ("three", "tres", "trois", "ba", "三", "ثلاثة", "ثلاث"),
    4: ("four", "cuatro", "quatre", "bốn", "tư", "四", "أربعة", "أربع"),
    5: ("five", "cinco", "cinq", "năm", "五", "خمسة", "خمس"),
    6: ("six", "seis", "sáu", "六", "ستة", "ست"),
    7: ("seven", "siete", "sept", "bảy", "七", "سبعة", "سبع"),
    8: ("eight", "ocho", "huit", "tám", "八", "ثمانية", "ثماني", "ثمان"),
    9: ("nine", "nueve", "neuf", "chín", "九", "تسعة", "تسع"),
    10: ("ten", "diez", "dix", "mười", "十", "عشرة", "عشر"),
}
_STAR_WORDS = (
    "star", "stars", "estrella", "estrellas", "étoile", "étoiles", "sao", "星", "颗星", "顆星", "分",
    "نجمة", "نجوم", "نجمات", "★", "⭐", "🌟", "points", "point", "puntos", "pts", "điểm",
)
_GREETING_LIST = (
    "hi", "hello", "hey", "hi there", "good morning", "good afternoon", "good evening",
    "hola", "buenos dias", "buenas tardes", "buenas noches", "buenas",
    "bonjour", "bonsoir", "salut", "coucou",
    "xin chào", "chào", "chào bạn", "chào anh", "chào chị", "alo",
    "你好", "您好", "哈喽", "嗨", "早上好", "晚上好",
    "مرحبا", "مرحباً", "اهلا", "أهلا", "السلام عليكم", "صباح الخير", "مساء الخير",
)
# fmt: on
_NUMBER_WORD: dict[str, int] = {
    normalise(variant): n
    for n, words in _NUMBER_WORDS.items()
    for word in words
    for variant in (word, word.replace("ة", "ه"))  # ta marbuta is often typed as ha
}
_FILLED, _EMPTY = frozenset("★⭐🌟"), frozenset("☆")


def _spaced(text: str) -> str:
    """Folded text with a space between every atom: "4星" -> "4 星", so units match however they are typed."""
    folded = normalise(text)
    return " ".join(folded[start:end] for start, end in atom_spans(folded))


def _alternatives(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted({_spaced(w) for w in words}, key=len, reverse=True))


# "4", "4 of 5" ("4/5" becomes that), "4 out of 5", "cuatro de cinco", "4 stars", "4 out of 5 stars", "4星".
_RATING = re.compile(
    rf"(?P<n>\S+)(?: (?:{_alternatives(['of', 'out of', 'de', 'sur', 'trên', 'من'])}) (?P<of>\S+))?"
    rf"(?: (?:{_alternatives(_STAR_WORDS)}))?"
)


def _rating_number(token: str) -> int | None:
    if token.isascii() and token.isdigit():
        return int(token) if len(token) <= 6 else None
    return _NUMBER_WORD.get(token)


def parse_rating(answer: str, low: int = 1, high: int = 5) -> int | None:
    """A whole number low..high: "4", "four"/"cuatro"/"四"/"أربعة", "4/5", "4 out of 5", "4 stars", "★★★★", "4️⃣"."""
    prepped = prep_text(answer)
    if len(prepped) > MAX_FOLDED or re.search(r"\d\s*[.,٫]\s*\d|(?:^|\s)[-−]\s*\d", prepped):
        return None  # "3.5", "3,5", "-3"
    stars = prepped.replace(" ", "")
    if stars and set(stars) <= _FILLED | _EMPTY:
        filled = [ch for ch in stars if ch in _FILLED]
        if len(set(filled)) != 1 or (len(filled) != len(stars) and len(stars) != high):
            return None  # mixed glyphs, or empty stars that do not pad out the scale
        value: int | None = len(filled)
    else:
        match = _RATING.fullmatch(_spaced(prepped.replace("/", " of ")))
        if not match or (match["of"] is not None and _rating_number(match["of"]) != high):
            return None
        value = _rating_number(match["n"])
    return value if value is not None and low <= value <= high else None


# fmt: off
_YES_LIST = (
    "yes", "y", "yeah", "yep", "yup", "ok", "okay", "sure", "of course", "certainly", "absolutely",
    "si", "sí", "claro", "vale", "por supuesto", "seguro", "de acuerdo", "desde luego",
    "oui", "ouais", "d'accord", "bien sûr", "certainement", "volontiers",
    "có", "co", "vâng", "vang", "ừ", "được", "đồng ý", "chắc chắn",
    "是", "是的", "好", "好的", "对", "對", "对的", "可以", "当然", "當然", "没问题", "沒問題", "行",
    "نعم", "ايوه", "أجل", "بالتأكيد", "أكيد", "طبعا", "طبعًا", "موافق", "حسنا", "حسنًا", "تمام",
    "👍", "✅", "✔️", "✔", "☑️", "✓",
)
_NO_LIST = (
    "no", "n", "nope", "nah", "non", "không", "khong", "ko",
    "不", "不是", "否", "不要", "不行", "不可以", "不用", "不对", "没有", "沒有",
    "لا", "كلا",
    "👎", "❌", "✖️", "✗", "✘",
)
_POLITE_LIST = (
    "please", "pls", "plz", "thanks", "thank you", "thx", "por favor", "gracias", "merci", "svp",
    "s'il vous plaît", "s'il te plaît", "cảm ơn", "dạ", "ạ", "谢谢", "謝謝", "请", "請", "شكرا", "من فضلك", "لو سمحت",
)
# fmt: on
YES_WORDS: frozenset[str] = folded_words(_YES_LIST)
NO_WORDS: frozenset[str] = folded_words(_NO_LIST)
_POLITE = folded_words(_POLITE_LIST) - YES_WORDS - NO_WORDS
_GREETINGS = folded_words(_GREETING_LIST)
_YES_NO_CAP = max(len(w) for w in YES_WORDS | NO_WORDS | _POLITE)


def _yes_no_word(piece: str) -> int | None:
    return 1 if piece in YES_WORDS else 0 if piece in NO_WORDS else 2 if piece in _POLITE else None


def is_acknowledgement(answer: str) -> bool:
    """Hello, yes, no, ok, thanks, an emoji: a reply that greets or acknowledges and says nothing to keep as input."""
    folded = normalise(answer)
    return len(folded) < 3 or folded in _POLITE or folded in _GREETINGS or parse_yes_no(answer) is not None


def parse_number(answer: str) -> int | None:
    """The whole answer as one number ("2", "٢", "２", " 2. "), or None."""
    return whole_number(normalise(answer))


def parse_yes_no(answer: str) -> bool | None:
    """True for a yes in any supported language ("Sí!!", "好的", "👍"), False for a no; None if both or neither."""
    folded = normalise(answer)
    if folded in YES_WORDS or folded in NO_WORDS:
        return folded in YES_WORDS
    if not folded or len(folded) > MAX_FOLDED:
        return None
    readings = segment(folded, _YES_NO_CAP, _yes_no_word, lambda _piece: False)
    meanings = {frozenset(r) - {2} for r in readings}
    if len(meanings) != 1:
        return None
    (meaning,) = meanings
    return bool(next(iter(meaning))) if len(meaning) == 1 else None
