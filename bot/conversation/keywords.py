"""The keyword layer: STOP, START, HELP, LANGUAGE, MENU and the rest in every supported language, whole message only.

Most languages are matched with accents folded (`arrêter` = `arreter`). Vietnamese is not: its tones tell words
apart (`đúng` "right" is not `dừng` "stop"), so its words match with their marks, and typed without any marks only
where the bare form can mean nothing else (`huy dang ky`). A bare form that could be another word (`dung`, `huy`)
is never a keyword: bot.conversation.opt_out asks about it instead."""

from __future__ import annotations

import enum

from bot.conversation.text import fold, plain


class Keyword(enum.StrEnum):
    """A command the resident can send at any point in a conversation."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    LANGUAGE = "language"
    MENU = "menu"
    POLL = "poll"
    FEEDBACK = "feedback"
    PROPOSE = "propose"
    EVENTS = "events"
    ABOUT_ME = "about_me"
    MY_DATA = "my_data"
    DELETE_MY_DATA = "delete_my_data"


# Twilio's defaults (FACTS.md) and English first, then each language's natural words; matched after fold(). The
# language a word is in tells a newcomer's language (see keyword_language).
# fmt: off
_WORDS_BY_LANGUAGE: dict[Keyword, dict[str, tuple[str, ...]]] = {
    Keyword.OPT_OUT: {
        "en": ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out"),
        "es": ("alto", "parar", "para", "cancelar", "baja", "darse de baja"),
        "fr": ("arret", "arreter", "arretez", "desabonner", "desinscrire", "stop sms"),
        "zh_Hans": ("退订", "退訂", "停止", "取消", "取消订阅", "取消訂閱", "退出"),
        "ar": ("توقف", "وقف", "اوقف", "ايقاف", "الغاء", "الغاء الاشتراك"),  # (hamza folded by NFKD where it can be)
    },
    Keyword.OPT_IN: {
        "en": ("start", "unstop", "subscribe"),
        "es": ("iniciar", "comenzar", "alta", "empezar"),
        "fr": ("commencer", "demarrer", "abonner"),
        "zh_Hans": ("开始", "開始", "订阅", "訂閱"),
        "ar": ("ابدا", "ابدأ", "اشتراك"),
    },
    Keyword.HELP: {
        "en": ("help", "info"),
        "es": ("ayuda", "informacion"),
        "fr": ("aide",),
        "zh_Hans": ("帮助", "幫助", "求助", "信息"),
        "ar": ("مساعدة", "مساعده", "معلومات"),
    },
    Keyword.LANGUAGE: {
        "en": ("language", "lang", "languages"),
        "es": ("idioma", "idiomas", "lengua"),
        "fr": ("langue", "langues"),
        "zh_Hans": ("语言", "語言"),
        "ar": ("لغة", "اللغة", "لغه"),
    },
    Keyword.MENU: {
        "en": ("menu", "options"),
        "es": ("opciones",),
        "zh_Hans": ("菜单", "菜單", "選單", "目录"),
        "ar": ("القائمة", "قائمة", "القائمه"),
    },
    Keyword.POLL: {
        "en": ("poll", "polls", "survey"),
        "es": ("encuesta", "encuestas"),
        "fr": ("sondage", "sondages", "enquete"),
        "zh_Hans": ("调查", "問卷", "问卷", "投票"),
        "ar": ("استطلاع", "استبيان"),
    },
    Keyword.FEEDBACK: {
        "en": ("feedback", "comment", "suggestion"),
        "es": ("comentario", "comentarios", "opinion", "sugerencia"),
        "fr": ("avis", "commentaire", "suggestion"),
        "zh_Hans": ("反馈", "意见", "建议", "意見"),
        "ar": ("راي", "رأي", "ملاحظات"),
    },
    Keyword.PROPOSE: {
        "en": ("propose", "proposal", "idea", "ideas"),
        "es": ("propuesta", "proponer", "propongo"),
        "fr": ("proposer", "proposition", "idee", "je propose"),
        "zh_Hans": ("提议", "提案", "倡议", "点子"),
        "ar": ("اقتراح", "اقترح", "مقترح"),
    },
    Keyword.EVENTS: {
        "en": ("events", "event", "calendar"),
        "es": ("eventos", "evento", "calendario"),
        "fr": ("evenements", "evenement", "agenda"),
        "zh_Hans": ("活动", "活動", "日程"),
        "ar": ("فعاليات", "الفعاليات", "فعالية", "احداث"),
    },
    Keyword.ABOUT_ME: {
        "en": ("about me", "aboutme"),
        "es": ("sobre mi", "acerca de mi"),
        "fr": ("a propos de moi", "sur moi"),
        "zh_Hans": ("关于我", "關於我"),
        "ar": ("عني", "عن نفسي", "نبذة عني"),
    },
    Keyword.MY_DATA: {
        "en": ("my data", "mydata", "my info"),
        "es": ("mis datos",),
        "fr": ("mes donnees",),
        "zh_Hans": ("我的数据", "我的資料", "我的信息"),
        "ar": ("بياناتي",),
    },
    Keyword.DELETE_MY_DATA: {
        "en": ("delete my data", "delete me", "erase my data", "delete my info"),
        "es": ("borrar mis datos", "eliminar mis datos", "borrar mis datos personales"),
        "fr": ("supprimer mes donnees", "effacer mes donnees"),
        "zh_Hans": ("删除我的数据", "刪除我的資料", "删除我的信息"),
        "ar": ("احذف بياناتي", "حذف بياناتي", "امسح بياناتي"),
    },
}
_WORDS: dict[Keyword, tuple[str, ...]] = {
    keyword: tuple(word for words in by_language.values() for word in words)
    for keyword, by_language in _WORDS_BY_LANGUAGE.items()
}
# Vietnamese, with its marks; matched after plain().
VIETNAMESE: dict[Keyword, tuple[str, ...]] = {
    Keyword.OPT_OUT: ("dừng", "dừng lại", "hủy", "huỷ", "hủy đăng ký", "huỷ đăng ký", "ngừng", "ngưng"),
    Keyword.OPT_IN: ("bắt đầu", "đăng ký", "đăng kí"),
    Keyword.HELP: ("giúp", "giúp đỡ", "trợ giúp"),
    Keyword.LANGUAGE: ("ngôn ngữ", "tiếng"),
    Keyword.MENU: ("danh mục", "thực đơn"),
    Keyword.POLL: ("khảo sát", "bình chọn"),
    Keyword.FEEDBACK: ("góp ý", "ý kiến", "phản hồi"),
    Keyword.PROPOSE: ("đề xuất", "ý tưởng"),
    Keyword.EVENTS: ("sự kiện", "lịch"),
    Keyword.ABOUT_ME: ("về tôi", "về bản thân"),
    Keyword.MY_DATA: ("dữ liệu của tôi", "thông tin của tôi"),
    Keyword.DELETE_MY_DATA: ("xóa dữ liệu", "xoá dữ liệu", "xóa dữ liệu của tôi", "xoá dữ liệu của tôi"),
}
# Vietnamese typed without marks, where the bare form can only be the keyword.
_VIETNAMESE_BARE: dict[Keyword, tuple[str, ...]] = {
    Keyword.OPT_OUT: ("huy dang ky",),
    Keyword.OPT_IN: ("bat dau",),
    Keyword.HELP: ("giup do", "tro giup"),
    Keyword.POLL: ("khao sat", "binh chon"),
    Keyword.FEEDBACK: ("gop y", "phan hoi"),
    Keyword.PROPOSE: ("de xuat", "y tuong"),
    Keyword.EVENTS: ("su kien",),
    Keyword.MY_DATA: ("du lieu cua toi",),
    Keyword.DELETE_MY_DATA: ("xoa du lieu", "xoa du lieu cua toi"),
}
# fmt: on

# HERE and the code shown at an event (HERE 4821): checked in. Words that are ordinary answers too ("present",
# "aqui") count only with a code.
_CHECK_IN_WORDS = (
    "here",
    "checkin",
    "check in",
    "aqui",
    "presente",
    "ici",
    "present",
    "签到",
    "簽到",
    "到",
    "حاضر",
    "هنا",
)
_CHECK_IN_VIETNAMESE = ("có mặt", "điểm danh")
_CHECK_IN_VIETNAMESE_BARE = ("co mat", "diem danh")
# SUPPORT and a published proposal's number (SUPPORT 4821): the resident supports it.
_SUPPORT_WORDS = (
    "support",
    "apoyo",
    "apoyar",
    "apoyo a",
    "soutien",
    "soutenir",
    "je soutiens",
    "支持",
    "ادعم",
    "دعم",
    "أؤيد",
    "اؤيد",
)
_SUPPORT_VIETNAMESE = ("ủng hộ",)
_SUPPORT_VIETNAMESE_BARE = ("ung ho",)
_STATUS_WORDS = ("status", "estado", "statut", "trang thai", "tinh trang", "状态", "狀態", "进度", "الحالة", "حالة")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９", "0123456789" * 3)
# Letters only Vietnamese writes (ă đ ơ ư, and tones under or over a vowel that other languages leave bare): a text
# with one is Vietnamese, and is never folded into another language's keyword.
_VIETNAMESE_LETTERS = frozenset("ăđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")

# Accepted as opt-in only from someone who has opted out; otherwise "yes" answers the question in front of them.
OPT_IN_WHEN_STOPPED = frozenset({"yes", "si", "oui", "是", "نعم"})
OPT_IN_WHEN_STOPPED_VIETNAMESE = frozenset({"có"})

_FOLDED: dict[str, Keyword] = {fold(word): keyword for keyword, words in _WORDS.items() for word in words}
_PLAIN: dict[str, Keyword] = {
    plain(word): keyword
    for table in (VIETNAMESE, _VIETNAMESE_BARE)
    for keyword, words in table.items()
    for word in words
}
_YES_FOLDED = frozenset(fold(word) for word in OPT_IN_WHEN_STOPPED)
_STATUS_FOLDED = frozenset(fold(word) for word in _STATUS_WORDS)
_STATUS_PREFIXES = tuple(fold(word) for word in _STATUS_WORDS)  # in the words' own order: the first that fits wins
# Longest first, so that "check in 4821" is not read as "check" and "in 4821".
_CHECK_IN_FOLDED = sorted({fold(w) for w in (*_CHECK_IN_WORDS, *_CHECK_IN_VIETNAMESE_BARE)}, key=len, reverse=True)
_CHECK_IN_PLAIN = sorted({plain(w) for w in _CHECK_IN_VIETNAMESE}, key=len, reverse=True)
_SUPPORT_FOLDED = sorted({fold(w) for w in (*_SUPPORT_WORDS, *_SUPPORT_VIETNAMESE_BARE)}, key=len, reverse=True)
_SUPPORT_PLAIN = sorted({plain(w) for w in _SUPPORT_VIETNAMESE}, key=len, reverse=True)


def is_vietnamese(text: str) -> bool:
    """True when a (plain) text has a letter only Vietnamese writes."""
    return not _VIETNAMESE_LETTERS.isdisjoint(text)


def match_keyword(text: str, *, opted_out: bool = False) -> Keyword | None:
    """The keyword that the whole message is, if any (any case and punctuation; accents as its language needs)."""
    exact = plain(text)
    if not exact:
        return None
    keyword = _PLAIN.get(exact)
    if keyword is None and not is_vietnamese(exact):
        keyword = _FOLDED.get(fold(text))
    if keyword is None and opted_out and (exact in OPT_IN_WHEN_STOPPED_VIETNAMESE or fold(text) in _YES_FOLDED):
        return Keyword.OPT_IN
    return keyword


def _word_languages() -> dict[str, str]:
    """Each keyword word that only one language other than English has, and that language (a Vietnamese one too)."""
    seen: dict[str, set[str]] = {}
    for by_language in _WORDS_BY_LANGUAGE.values():
        for language, words in by_language.items():
            for word in words:
                seen.setdefault(fold(word), set()).add(language)
    for table in (VIETNAMESE, _VIETNAMESE_BARE):
        for words in table.values():
            for word in words:
                seen.setdefault(plain(word), set()).add("vi")
    return {
        word: next(iter(languages)) for word, languages in seen.items() if len(languages) == 1 and "en" not in languages
    }


_WORD_LANGUAGE = _word_languages()


def keyword_language(text: str) -> str | None:
    """The language of a keyword a message is, when only that language has the word ("AYUDA" is Spanish, "帮助"
    Chinese); None for English and Twilio's words (STOP, HELP: everyone's), and for words several languages share."""
    exact = plain(text)
    if not exact or match_keyword(text) is None:
        return None
    return _WORD_LANGUAGE.get(exact) or _WORD_LANGUAGE.get(fold(text))


def all_keywords() -> dict[Keyword, tuple[str, ...]]:
    """Every form of every keyword (Vietnamese with its marks), for documentation and tests."""
    return {keyword: words + VIETNAMESE.get(keyword, ()) for keyword, words in _WORDS.items()}


def is_status_request(text: str) -> bool:
    """True when the whole message is a STATUS word without a reference (any supported language)."""
    return fold(text) in _STATUS_FOLDED


def match_status(text: str) -> int | None:
    """The reference in "STATUS 4821" (any supported language, with or without #), else None."""
    folded = fold(text).translate(_DIGITS)
    for prefix in _STATUS_PREFIXES:
        if folded.startswith(prefix):
            rest = folded.removeprefix(prefix).strip()
            if rest.isdecimal() and 3 <= len(rest) <= 8:
                return int(rest)
    return None


def _code_after(text: str, words: list[str]) -> str | None:
    for word in words:
        if text.startswith(word):
            rest = text.removeprefix(word).strip().lstrip("#").strip()
            if rest.isdecimal() and 3 <= len(rest) <= 8:
                return rest
    return None


def _word_and_number(text: str, marked: list[str], folded: list[str]) -> str | None:
    """The number after one of a keyword's words ("HERE 4821", "ỦNG HỘ 4821"): Vietnamese words with their marks,
    the others folded (not in a text only Vietnamese writes); None when the message is not that."""
    exact = plain(text).translate(_DIGITS)
    number = _code_after(exact, marked)
    if number is None and not is_vietnamese(exact):
        number = _code_after(fold(text).translate(_DIGITS), folded)
    return number


def match_check_in(text: str) -> str | None:
    """The code in "HERE 4821" (any supported language, with or without #), else None."""
    return _word_and_number(text, _CHECK_IN_PLAIN, _CHECK_IN_FOLDED)


def is_check_in_word(text: str) -> bool:
    """True when the whole message is a check-in word without its code (HERE, AQUÍ, 签到...)."""
    exact = plain(text)
    if exact in _CHECK_IN_PLAIN:
        return True
    return not is_vietnamese(exact) and fold(text) in _CHECK_IN_FOLDED


def match_support(text: str) -> int | None:
    """The proposal's number in "SUPPORT 4821" (any supported language, with or without #), else None."""
    number = _word_and_number(text, _SUPPORT_PLAIN, _SUPPORT_FOLDED)
    return int(number) if number is not None else None
