"""Revocation by reasonable means (FCC 24-18, FACTS.md): a short message that asks to stop in other words stops;
one that might be asking (a bare Vietnamese form, a near-miss of STOP) gets one question; a longer text in which
"stop" is only a word ("the bus stop has no light") does neither.

The rule, as the README states it: a message of at most eight words stops when every word in it is a stop word, a
"don't / no more" word, a messaging word or a filler word of one language, and it has a stop word or both of the
others ("stop please", "please stop texting me", "no más mensajes", "arrêtez svp", 不要再发了). The exact keywords
are bot.conversation.keywords'; this module only widens them."""

from __future__ import annotations

import enum
import functools
import re

from bot.conversation.keywords import VIETNAMESE, Keyword, is_vietnamese, match_keyword
from bot.conversation.text import fold, plain


class StopRequest(enum.Enum):
    """What a message that is not itself a keyword says about stopping."""

    NONE = "none"
    STOP = "stop"
    ASK = "ask"  # could be a request to stop: ask once, change nothing


MAX_WORDS = 8
# fmt: off
_STOP = frozenset(fold(w) for w in (
    "stop", "stopall", "unsubscribe", "unsub", "optout", "opt-out", "revoke",
    "parar", "paren", "pare", "basta", "baja", "cancelar", "desuscribir", "desuscribirme",
    "arreter", "arretez", "desabonner", "desabonnez", "desinscrire", "desinscrivez",
    "توقف", "توقفوا", "اوقف", "اوقفوا", "ايقاف", "الغاء",
))
_NEGATION = frozenset(fold(w) for w in (
    "don", "dont", "do", "not", "no", "never", "nomore",
    "nunca", "ne", "n", "pas", "plus", "jamais",
    "لا", "بدون",
))
_MESSAGING = frozenset(fold(w) for w in (
    "text", "texts", "texting", "txt", "txts", "message", "messages", "messaging", "msg", "msgs", "sms", "send",
    "sending", "contact", "contacting", "spam", "spamming", "notifications", "alerts",
    "mensaje", "mensajes", "manden", "mandes", "envien", "envies", "enviar", "mandar", "escriban", "textos",
    "notificaciones", "m'envoyer", "envoyer", "envoyez", "m'envoyez", "ecrire", "textos", "notifications",
    "رسائل", "الرسائل", "رسالة", "ترسل", "ترسلوا", "ارسال", "تراسلني", "تراسلوني",
))
_FILLER = frozenset(fold(w) for w in (
    "please", "pls", "plz", "now", "right", "away", "immediately", "asap", "me", "my", "i", "want", "to", "the",
    "all", "it", "them", "this", "these", "that", "thanks", "thank", "you", "thx", "ty", "ok", "okay", "just",
    "already", "anymore", "more", "any", "us", "from", "list", "number", "subscription", "your", "u", "again",
    "t", "s", "il", "m", "l", "d",  # what is left of don't, s'il, m'envoyer once split at the apostrophe
    "por", "favor", "ya", "mas", "más", "me", "de", "suscripcion", "gracias", "ahora",
    "quiero", "lista", "numero", "estos", "darme", "denme",
    "svp", "s'il", "vous", "plait", "merci", "les", "des", "de", "m'", "me", "tout", "maintenant", "ca", "mon",
    "abonnement", "je", "veux", "moi", "liste", "numero", "ces",
    "من", "فضلك", "لو", "سمحت", "شكرا", "الاشتراك", "لي", "الان", "اريد", "ارجو", "رجاء", "هذه",
))
# Vietnamese, with its marks (plain()); its stop words are the keyword's own.
_STOP_VI = frozenset(word for form in VIETNAMESE[Keyword.OPT_OUT] for word in plain(form).split())
_NEGATION_VI = frozenset(("đừng", "không", "thôi", "khỏi"))
_MESSAGING_VI = frozenset(("nhắn", "tin", "gửi", "tin nhắn", "sms"))
_FILLER_VI = frozenset((
    "nữa", "cho", "tôi", "em", "anh", "chị", "làm", "ơn", "xin", "cảm", "hãy", "lại", "ạ", "đi", "nhé", "muốn",
    "đăng", "ký", "kí", "nhận", "mình", "con", "cháu", "bác", "cô", "chú", "ngay", "luôn", "tất", "cả", "các",
))
_BARE_VI = tuple(
    frozenset(fold(word) for word in words) for words in (_STOP_VI, _NEGATION_VI, _MESSAGING_VI, _FILLER_VI)
)
# Chinese is written without spaces: these phrases ask to stop wherever they stand in a short message.
_STOP_ZH = ("停止", "退订", "退訂", "取消订阅", "取消訂閱", "别发", "別發", "不要再发", "不要再發", "不要发", "不要發",
            "别再发", "別再發", "不想收到", "不再接收", "拒收", "不要再给我发", "不要再給我發")
_MAX_ZH = 16
_STOP_MARKED = frozenset(("arrête",))
# Vietnamese typed without marks where the bare form is also an ordinary word (đúng, dùng, Dũng; Huy; ...).
_ASK_BARE_VI = frozenset(("dung", "dung lai", "huy", "ngung", "ngung lai", "dung nhan tin", "ngung nhan tin"))
# Near misses of STOP that are words of their own: left alone.
_REAL_WORDS = frozenset(("step", "stoop", "top", "shop", "atop", "slop", "stow", "spot", "stomp", "stops", "stool",
                         "soup", "sop", "tops", "stopwatch"))
# fmt: on
_REPEATS = re.compile(r"(.)\1+")


def read_keyword(text: str, *, opted_out: bool = False) -> tuple[Keyword | None, StopRequest]:
    """The keyword a message is (a short request to stop in other words counts as STOP), and whether to ask."""
    keyword = match_keyword(text, opted_out=opted_out)
    if keyword is not None:
        return keyword, StopRequest.NONE
    request = stop_request(text)
    return (Keyword.OPT_OUT if request is StopRequest.STOP else None), request


def stop_request(text: str) -> StopRequest:
    """Whether a message that is not a keyword asks to stop (see the module's docstring)."""
    # The same short answers ("1", "yes", "thanks!") come again and again; a long text is read each time.
    return _short_stop_request(text) if len(text) <= _CACHED_LENGTH else _stop_request(text)


_CACHED_LENGTH = 40


@functools.lru_cache(maxsize=4096)
def _short_stop_request(text: str) -> StopRequest:
    return _stop_request(text)


def _stop_request(text: str) -> StopRequest:
    exact = plain(text)
    if _chinese_stop(exact):
        return StopRequest.STOP
    words = exact.split()
    if not words or len(words) > MAX_WORDS:
        return StopRequest.NONE
    if is_vietnamese(exact):
        return _asks(words, _STOP_VI, _NEGATION_VI, _MESSAGING_VI, _FILLER_VI)
    folded = fold(text)
    if folded in _ASK_BARE_VI and exact == folded:  # typed with marks (dũng, dùng), it is that word
        return StopRequest.ASK
    tokens = folded.split()
    if len(tokens) == len(words):  # French folds arrête (stop!) into arrêté (arrested): the mark decides
        tokens = ["arretez" if word in _STOP_MARKED else token for word, token in zip(words, tokens, strict=True)]
    request = _asks(tokens, _STOP, _NEGATION, _MESSAGING, _FILLER)
    if request is StopRequest.NONE and exact == folded:  # no marks at all: perhaps Vietnamese typed bare
        # "dung nhan tin nua": dừng (stop) or đừng (don't) texting, both stop; without a messaging word, ask.
        bare = _asks(words, *_BARE_VI)
        messaging = any(word in _BARE_VI[2] for word in words)
        request = bare if bare is StopRequest.NONE or messaging else StopRequest.ASK
    if request is StopRequest.NONE and len(words) == 1 and exact == folded:  # a word with marks is meant
        return _misspelt(folded)
    return request


def _chinese_stop(exact: str) -> bool:
    compact = exact.replace(" ", "")
    return 0 < len(compact) <= _MAX_ZH and any(phrase in compact for phrase in _STOP_ZH)


def _asks(
    words: list[str],
    stop: frozenset[str],
    negation: frozenset[str],
    messaging: frozenset[str],
    filler: frozenset[str],
) -> StopRequest:
    # "tin nhắn" and the like are one word to a reader: look at pairs too.
    kinds = [
        "stop" if word in stop else "no" if word in negation else "msg" if word in messaging else "-"
        for word in words
        if word not in filler
    ]
    if not kinds or "-" in kinds:
        return StopRequest.NONE
    if "stop" in kinds or ("no" in kinds and "msg" in kinds):
        return StopRequest.STOP
    return StopRequest.NONE


def _misspelt(word: str) -> StopRequest:
    """STOPP and STOOOP stop; a typo one key away from a stop word is asked about; real words are left alone."""
    if word in _REAL_WORDS or not word.isascii() or not word.isalpha():
        return StopRequest.NONE
    if _REPEATS.sub(r"\1", word) in {"stop", "unsubscribe", "optout"}:
        return StopRequest.STOP
    for target in ("stop", "unsubscribe", "cancel", "parar", "arreter"):
        distance = _distance(word, target)
        if distance == 1 or (distance == 2 and len(target) >= 8):
            return StopRequest.STOP if len(target) >= 8 else StopRequest.ASK
    return StopRequest.NONE


def _distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment), enough for one-word typos."""
    if abs(len(a) - len(b)) > 2:
        return 3
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]
