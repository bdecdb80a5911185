"""Which of our languages a newcomer's first message seems written in: a preselection for the language menu, never
a choice made for them; None whenever the text is too short (a greeting, "ok", a number, an emoji), made of copied
command words, or not clearly in one language."""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

# lingua's name of each of our languages (lingua itself is imported when the first detector is built).
LOCALE_OF: dict[str, str] = {
    "ENGLISH": "en",
    "SPANISH": "es",
    "CHINESE": "zh_Hans",
    "VIETNAMESE": "vi",
    "ARABIC": "ar",
    "FRENCH": "fr",
}
MIN_WORDS = 3  # "hola", "ok", "Xin chào", "STOP 2" say too little
MIN_HAN = 4  # Chinese writes no spaces: "你好" is one greeting, "我想问疫苗" a sentence
MIN_CONFIDENCE = 0.6  # the likeliest language's share of the confidence
MIN_MARGIN = 0.25  # ahead of the second likeliest by at least this much
MIN_TELLING = 2  # small words of another language that make a guess unclear
SURE_TELLING = 3  # small words of one language, and none of the guess's, that overrule the detector
MAX_CHARACTERS = 400  # the start of a long text says enough; the rest would cost time for nothing

# Words people copy from a poster or a previous text whatever their own language ("text START to …", "reply YES",
# "INFO"): never counted as words of the message nor read for its language.
COMMAND_WORDS = frozenset(
    {
        "stop", "stopall", "start", "unstop", "help", "info", "menu", "yes", "no", "ok", "okay", "oki", "si", "sí",
        "cancel", "end", "quit", "unsubscribe", "subscribe", "status", "skip", "poll", "feedback", "events", "sms",
    }
)  # fmt: skip
# Small words only one of the Latin-script languages uses: a check on the detector's guess (a guess they contradict
# is no guess), and the way to recognise Vietnamese typed without its marks, which the detector cannot read.
TELLING_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({
        "the", "i", "you", "is", "are", "to", "and", "of", "my", "for", "it", "this", "that", "what", "where", "how",
        "when", "who", "can", "could", "do", "does", "there", "we", "our", "your", "have", "has", "need", "want",
        "with", "at", "get", "from", "about", "any", "will", "would", "i'm", "it's", "don't", "can't", "please",
        "thanks",
    }),
    "es": frozenset({
        "el", "los", "las", "y", "en", "una", "por", "para", "es", "mi", "hay", "lo", "como", "donde", "dónde",
        "cuando", "cuándo", "quiero", "tengo", "necesito", "puedo", "del", "al", "su", "yo", "nos", "están", "está",
        "qué", "cómo", "hola", "gracias", "pero", "muy", "ya", "también", "porque", "ustedes", "usted",
    }),
    "fr": frozenset({
        "le", "les", "et", "est", "une", "pour", "pas", "je", "il", "elle", "on", "vous", "nous", "mon", "ma", "mes",
        "où", "avec", "dans", "sur", "ce", "ça", "qui", "au", "aux", "du", "des", "bonjour", "merci", "mais", "aussi",
        "très", "c'est", "j'ai", "quoi", "comment", "quand", "y'a", "svp",
    }),
    "vi": frozenset({  # as typed without marks (with them, the detector reads Vietnamese well)
        "toi", "khong", "ko", "muon", "hoi", "duoc", "dc", "nha", "chao", "giup", "cua", "nhe", "dau", "kham", "phong",
        "tien", "thue", "gio", "nhan", "thuc", "pham", "suc", "khoe", "ngua", "tiem", "goi", "roi", "vay", "nao",
        "sao", "biet", "minh", "nguoi", "chung", "nhung", "voi", "hom", "xin",
    }),
}  # fmt: skip
# Arabic in Latin letters and digits ("3an", "ma3lumat", "7abibi"), not "22nd", "5e", "9am" or "19h".
_ARABIZI = re.compile(r"(?i)\b[a-z]+[2357]|\b[2357](?!st\b|nd\b|rd\b|th\b|am\b|pm\b|e\b|er\b|h\b)[a-z]{2,}")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LINK = re.compile(r"\S+://\S+|www\.\S+|\S+@\S+")

_built: LanguageDetector | None = None
_building = threading.Lock()


def detector() -> LanguageDetector:
    """The one detector of this process, built on first use (about 50 ms): the six languages, trigrams only (low
    accuracy mode: about 9 MB of RSS where the full models take about 120 MB, which `serve` cannot afford, for about
    one point less accuracy on tests/i18n/first_messages/)."""
    global _built  # noqa: PLW0603  # one detector per process, made when it is first needed
    if _built is None:
        with _building:
            if _built is None:
                from lingua import Language, LanguageDetectorBuilder  # noqa: PLC0415 (2 MB; for newcomers only)

                languages = [getattr(Language, name) for name in LOCALE_OF]
                _built = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
    return _built


def readable_part(text: str) -> str:
    """The words of a message that can tell its language: no links, numbers, emoji or copied command words."""
    text = _LINK.sub(" ", unicodedata.normalize("NFC", text))
    words = [word for word in _WORD.findall(text) if word.casefold() not in COMMAND_WORDS]
    return " ".join(words)


def says_enough(readable: str) -> bool:
    """Whether the readable part is long enough to guess from: three words, or four Han characters for Chinese
    (whose words are not spaced)."""
    han = len(_HAN.findall(readable))
    return han >= MIN_HAN or len(_HAN.sub(" ", readable).split()) >= MIN_WORDS


def suggest_locale(text: str) -> str | None:
    """The locale the text is clearly written in, else None (the resident is asked with the usual menu)."""
    text = text[:MAX_CHARACTERS]
    readable = readable_part(text)
    if not says_enough(readable) or _ARABIZI.search(text):
        return None
    telling = _telling(readable)
    if telling["vi"] * 2 > len(readable.split()):
        return "vi"  # typed without its marks: "toi muon hoi ve tiem ngua"
    guess = _detected(readable)
    if guess is None or (guess == "vi" and readable.isascii() and not telling["vi"]):
        return None  # unclear; or "Vietnamese" with neither a mark nor one of its words: another language misread
    said = max(telling, key=lambda other: telling[other])
    if said != guess and telling[said] >= MIN_TELLING and telling[said] > telling[guess]:
        # Its small words say otherwise: they decide when there are several and none of the guess's, else unclear.
        return said if telling[said] >= SURE_TELLING and not telling[guess] else None
    return guess


def _detected(readable: str) -> str | None:
    """The detector's language when it is confident and well ahead of the next one."""
    ranked = detector().compute_language_confidence_values(readable.lower())
    if not ranked:
        return None
    best = ranked[0].value
    runner_up = ranked[1].value if len(ranked) > 1 else 0.0
    if best < MIN_CONFIDENCE or best - runner_up < MIN_MARGIN:
        return None
    return LOCALE_OF[ranked[0].language.name]


def _telling(readable: str) -> dict[str, int]:
    """How many of the text's words are small words of only one language, per language."""
    words = readable.casefold().replace("’", "'").split()
    counts = {locale: sum(word in TELLING_WORDS.get(locale, ()) for word in words) for locale in LOCALE_OF.values()}
    if not readable.isascii():
        counts["vi"] = 0  # unmarked Vietnamese is plain ASCII; with its marks the detector reads it
    return counts
