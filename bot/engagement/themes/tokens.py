"""Words of a resident's text for finding themes, in each language: accents folded (Spanish, French), Arabic letters
normalised (hamza forms of alef, taa marbuta, alef maqsura, diacritics and tatweel removed), Vietnamese as syllables
with their tones and each pair of syllables (its words are mostly two), Chinese as pairs of characters (a
segmentation that needs no dictionary: most Chinese words are two characters), common words dropped. Each word also
names the concept it is about where a small lexicon knows it (clinic, clínica, 诊所, phòng khám, عيادة ...), so that
the same theme is found across languages."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator

_LATIN_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_ARABIC_MARKS = re.compile(r"[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي"})

# fmt: off
_STOPWORD_LINES = (
    "a an and are as at be but by for from has have i in is it its me my no not of on or our so that the their",
    "there this to too us was we were what when where which who will with would you your very more much please",
    "el la los las un una unos unas y o de del al en es son que por para con sin no se su sus mi mis muy más hay",
    "nos nuestro nuestra lo le les como pero este esta estos estas ese esa también ya",
    "le la les un une des et ou de du au aux en est sont que qui pour par avec sans ne pas se sa son ses mon ma mes",
    "très plus il y a nous notre nos ce cette ces mais aussi on",
    "và là có của cho với không được các những một này đó ở trong khi thì rất cũng để như nhưng thêm cần chúng tôi ta",
    "و في من على إلى الى عن مع هذا هذه ذلك التي الذي كان كانت لا ما هو هي نحن لنا لدينا او أو ان إن قد كل يوجد",
)
STOPWORDS = frozenset(word for line in _STOPWORD_LINES for word in line.split())
# Concepts residents often raise, in each language's folded spelling (as tokens() reads them): a shared token lets a
# theme gather what is said about it in every language.
LEXICON: dict[str, tuple[str, ...]] = {
    "clinic": ("clinic", "clinics", "clinica", "clinicas", "clinique", "cliniques", "诊所", "phong kham",
               "عياده", "عيادات"),
    "doctor": ("doctor", "doctors", "medico", "medicos", "medecin", "medecins", "医生", "bac si", "طبيب", "اطباء"),
    "interpreter": ("interpreter", "interpreters", "translator", "interprete", "interpretes", "traductor", "翻译",
                    "phien dich", "thong dich", "مترجم", "مترجمين", "ترجمه"),
    "bus": ("bus", "buses", "autobus", "autobuses", "camion", "公交", "公交车", "巴士", "xe buyt", "حافله", "باص"),
    "shade": ("shade", "shelter", "sombra", "techo", "ombre", "abri", "遮阳", "遮阳棚", "bong mat", "mai che",
              "ظل", "مظله"),
    "light": ("light", "lights", "streetlight", "streetlights", "lighting", "luz", "luces", "alumbrado", "lumiere",
              "lampadaire", "lampadaires", "eclairage", "路灯", "灯", "den", "den duong", "انار", "اناره",
              "مصابيح"),
    "park": ("park", "parks", "parque", "parques", "parc", "parcs", "公园", "cong vien", "حديقه", "حدائق"),
    "food": ("food", "groceries", "vegetables", "fruit", "comida", "alimentos", "verduras", "frutas", "nourriture",
             "legumes", "fruits", "食物", "蔬菜", "水果", "thuc pham", "rau", "طعام", "غذاء", "خضار", "فواكه"),
    "rent": ("rent", "housing", "landlord", "eviction", "renta", "alquiler", "vivienda", "desalojo", "loyer",
             "logement", "proprietaire", "expulsion", "房租", "住房", "房东", "tien nha", "nha o", "chu nha", "ايجار",
             "سكن", "مالك"),
    "water": ("water", "agua", "eau", "水", "nuoc", "ماء", "مياه"),
    "air": ("air", "smoke", "pollution", "aire", "humo", "contaminacion", "fumee", "空气", "污染", "khong khi", "khoi",
            "o nhiem", "هواء", "تلوث", "دخان"),
    "mental": ("mental", "depression", "anxiety", "counselor", "counselors", "therapy", "salud mental", "ansiedad",
               "depresion", "sante mentale", "anxiete", "心理", "焦虑", "tam than", "lo au", "نفسي", "نفسيه", "قلق"),
    "vaccine": ("vaccine", "vaccines", "shots", "flu shot", "vacuna", "vacunas", "vaccin", "vaccins", "疫苗",
                "vac xin", "tiem", "لقاح", "لقاحات", "تطعيم"),
    "hours": ("hours", "saturday", "saturdays", "evening", "evenings", "weekend", "horario", "sabado", "sabados",
              "noche", "tarde", "horaires", "samedi", "samedis", "soir", "周末", "周六", "晚上", "gio", "thu bay",
              "buoi toi", "ساعات", "سبت", "مساء"),
    "safety": ("safe", "safety", "crosswalk", "traffic", "speeding", "seguro", "seguridad", "cruce", "trafico",
               "securite", "passage pieton", "circulation", "安全", "人行横道", "交通", "an toan", "giao thong",
               "امان", "سلامه", "مرور"),
    "trash": ("trash", "garbage", "litter", "basura", "ordures", "dechets", "垃圾", "rac", "قمامه", "نفايات"),
}
# fmt: on
_CONCEPT_OF: dict[str, str] = {word: concept for concept, words in LEXICON.items() for word in words}


def _folded(text: str) -> str:
    """Lower case, accents off for Latin letters (Vietnamese marks too: its concepts are written bare above)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _arabic(text: str) -> str:
    return _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)


def _stem(word: str) -> str:
    """A word without what is glued to it: French elision (l', d', qu'), the Arabic article (ال, وال, بال)."""
    if "'" in word:
        head, _, tail = word.partition("'")
        return tail if len(head) <= 2 else word
    for prefix in ("وال", "بال", "لل", "ال"):
        if word.startswith(prefix) and len(word) - len(prefix) >= 2:
            return word[len(prefix) :]
    return word


_STOP = STOPWORDS | {_stem(_folded(_arabic(w))) for w in STOPWORDS}


def tokens(text: str, locale: str) -> list[str]:
    """The words of a text that may tell its theme, with the concepts they name (as "~concept")."""
    normal = unicodedata.normalize("NFKC", text)
    found: list[str] = []
    for run in _HAN.findall(normal):
        found += [run[i : i + 2] for i in range(max(len(run) - 1, 1))]
        found += [run[i : i + 3] for i in range(len(run) - 2)]  # 公交车, 遮阳棚: three characters for the lexicon
    latin = _HAN.sub(" ", normal)
    if locale == "vi":  # syllables with their tones, and each pair of them (most words are two)
        syllables = [w for w in _LATIN_WORD.findall(latin.lower()) if w not in STOPWORDS]
        found += syllables + [f"{a} {b}" for a, b in itertools.pairwise(syllables)]
        bare = [_folded(s) for s in syllables]
        found += [w for w in bare + [f"{a} {b}" for a, b in itertools.pairwise(bare)] if w in _CONCEPT_OF]
    else:
        words = [_stem(w) for w in _LATIN_WORD.findall(_folded(_arabic(latin)))]
        words = [w for w in words if w not in _STOP and len(w) > 1]
        found += words + [f"{a} {b}" for a, b in itertools.pairwise(words) if f"{a} {b}" in _CONCEPT_OF]
    concepts = [f"~{_CONCEPT_OF[w]}" for w in found if w in _CONCEPT_OF]
    return [w for w in found if w not in STOPWORDS] + concepts


def concepts(words: list[str]) -> Iterator[str]:
    """The concepts among a text's tokens."""
    return (w[1:] for w in words if w.startswith("~"))
