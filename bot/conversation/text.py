"""Text normalisation shared by keywords and answer parsing: case, accents, punctuation and spaces folded."""

from __future__ import annotations

import re
import unicodedata

_PUNCTUATION = re.compile(r"[\s\.,;:!\?¡¿\"'“”‘’`´\-–—_()\[\]{}*#~/\\。，！？、؟،؛…]+")


def fold(text: str) -> str:
    """Lower-case, strip accents and surrounding punctuation, collapse inner spaces: ' Arrêt! ' -> 'arret'."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # Vietnamese đ/Đ has no decomposition; fold it by hand.
    stripped = stripped.replace("đ", "d").replace("Đ", "D")
    words = _PUNCTUATION.sub(" ", stripped.casefold()).split()
    return " ".join(words)


def clean(text: str) -> str:
    """Drop control characters (keeping newlines and tabs) and surrounding space from inbound text."""
    kept = (ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C" or ch == "\u200d")
    return "".join(kept).strip()
