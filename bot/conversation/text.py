"""Text normalisation shared by keywords and answer parsing: case, punctuation and spaces always folded; accents
folded by fold(), kept by plain() (Vietnamese tones tell words apart: đúng "right" is not dừng "stop")."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_PUNCTUATION = re.compile(r"[\s\.,;:!\?¡¿\"'“”‘’`´\-–—_()\[\]{}*#~/\\。，！？、؟،؛…]+")


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower-case, strip accents and surrounding punctuation, collapse inner spaces: ' Arrêt! ' -> 'arret'."""
    decomposed = unicodedata.normalize("NFKD", text)
    # Accents go, and so do invisible format characters (RLM, zero-width space, BOM) that RTL keyboards add.
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf")
    # Vietnamese đ/Đ has no decomposition; fold it by hand.
    stripped = stripped.replace("đ", "d").replace("Đ", "D")
    words = _PUNCTUATION.sub(" ", stripped.casefold()).split()
    return " ".join(words)


@lru_cache(maxsize=8192)
def plain(text: str) -> str:
    """Lower-case, marks kept (composed), punctuation stripped, inner spaces collapsed: ' DỪNG! ' -> 'dừng'."""
    composed = unicodedata.normalize("NFC", text.casefold())
    visible = "".join(ch for ch in composed if unicodedata.category(ch) != "Cf")
    return " ".join(_PUNCTUATION.sub(" ", visible).split())


def storable(text: str) -> str:
    """Inbound text as it can be stored anywhere: lone surrogates become U+FFFD, NUL characters go."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
