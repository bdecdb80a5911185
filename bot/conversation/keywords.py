"""The keyword layer: STOP, START, HELP, LANGUAGE and MENU in every supported language, whole message only."""

from __future__ import annotations

import enum

from bot.conversation.text import fold


class Keyword(enum.StrEnum):
    """A command the resident can send at any point in a conversation."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    LANGUAGE = "language"
    MENU = "menu"
    POLL = "poll"
    FEEDBACK = "feedback"
    EVENTS = "events"


# Twilio's defaults (FACTS.md) first, then each supported language's natural words. Matched after fold().
# fmt: off
_WORDS: dict[Keyword, tuple[str, ...]] = {
    Keyword.OPT_OUT: (
        "stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out",
        "alto", "parar", "para", "cancelar", "baja", "darse de baja",  # es
        "arret", "arreter", "desabonner", "desinscrire", "stop sms",  # fr
        "dung", "dung lai", "huy", "huy dang ky", "ngung",  # vi
        "退订", "退訂", "停止", "取消", "取消订阅", "取消訂閱", "退出",  # zh
        "توقف", "وقف", "اوقف", "ايقاف", "الغاء", "الغاء الاشتراك",  # ar (hamza folded by NFKD where it can be)
    ),
    Keyword.OPT_IN: (
        "start", "unstop", "subscribe",
        "iniciar", "comenzar", "alta", "empezar",  # es
        "commencer", "demarrer", "abonner",  # fr
        "bat dau", "dang ky",  # vi
        "开始", "開始", "订阅", "訂閱",  # zh
        "ابدا", "ابدأ", "اشتراك",  # ar
    ),
    Keyword.HELP: (
        "help", "info",
        "ayuda", "informacion",  # es
        "aide",  # fr
        "giup", "giup do", "tro giup",  # vi
        "帮助", "幫助", "求助", "信息",  # zh
        "مساعدة", "مساعده", "معلومات",  # ar
    ),
    Keyword.LANGUAGE: (
        "language", "lang", "languages",
        "idioma", "idiomas", "lengua",  # es
        "langue", "langues",  # fr
        "ngon ngu", "tieng",  # vi
        "语言", "語言",  # zh
        "لغة", "اللغة", "لغه",  # ar
    ),
    Keyword.MENU: (
        "menu", "options",
        "opciones",  # es
        "danh muc", "thuc don",  # vi
        "菜单", "菜單", "選單", "目录",  # zh
        "القائمة", "قائمة", "القائمه",  # ar
    ),
    Keyword.POLL: (
        "poll", "polls", "survey",
        "encuesta", "encuestas",  # es
        "sondage", "sondages", "enquete",  # fr
        "khao sat", "binh chon",  # vi
        "调查", "問卷", "问卷", "投票",  # zh
        "استطلاع", "استبيان",  # ar
    ),
    Keyword.FEEDBACK: (
        "feedback", "comment", "idea", "suggestion",
        "comentario", "comentarios", "opinion", "sugerencia",  # es
        "avis", "commentaire", "idee",  # fr
        "gop y", "y kien", "phan hoi",  # vi
        "反馈", "意见", "建议", "意見",  # zh
        "راي", "رأي", "ملاحظات", "اقتراح",  # ar
    ),
    Keyword.EVENTS: (
        "events", "event", "calendar",
        "eventos", "evento", "calendario",  # es
        "evenements", "evenement", "agenda",  # fr
        "su kien", "lich",  # vi
        "活动", "活動", "日程",  # zh
        "فعاليات", "الفعاليات", "فعالية", "احداث",  # ar
    ),
}
# fmt: on

_STATUS_WORDS = ("status", "estado", "statut", "trang thai", "tinh trang", "状态", "狀態", "进度", "الحالة", "حالة")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹０１２３４５６７８９", "0123456789" * 3)

# Accepted as opt-in only from someone who has opted out; otherwise "yes" answers the question in front of them.
OPT_IN_WHEN_STOPPED = frozenset({"yes", "si", "oui", "co", "是", "نعم"})

_OPT_IN_WHEN_STOPPED_FOLDED = frozenset(fold(w) for w in OPT_IN_WHEN_STOPPED)
_LOOKUP: dict[str, Keyword] = {fold(word): keyword for keyword, words in _WORDS.items() for word in words}


def match_keyword(text: str, *, opted_out: bool = False) -> Keyword | None:
    """The keyword that the whole message is, if any (any case, accents and punctuation ignored)."""
    folded = fold(text)
    if not folded:
        return None
    keyword = _LOOKUP.get(folded)
    if keyword is None and opted_out and folded in _OPT_IN_WHEN_STOPPED_FOLDED:
        return Keyword.OPT_IN
    return keyword


def all_keywords() -> dict[Keyword, tuple[str, ...]]:
    """Every word of every keyword, for documentation and tests."""
    return dict(_WORDS)


def match_status(text: str) -> int | None:
    """The reference in "STATUS 4821" (any supported language, with or without #), else None."""
    folded = fold(text).translate(_DIGITS)
    for word in _STATUS_WORDS:
        prefix = fold(word)
        if folded.startswith(prefix):
            rest = folded.removeprefix(prefix).strip()
            if rest.isdigit() and 3 <= len(rest) <= 8:
                return int(rest)
    return None
