"""Golden transcripts: whole conversations through the real pipeline, per language and channel.

Each scenario's resident messages are below; what the bot said is in tests/golden/<scenario>.yaml.
After an intended change of wording, regenerate with `LOOPLINE_UPDATE_GOLDEN=1 pytest tests/test_golden.py`
and review the diff like any other change.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from bot.clock import FixedClock
from bot.conversation.flows.loader import read_document
from bot.delivery.sweeps import Schedule, check_backs, trust_pulses
from bot.engagement import proposals
from bot.engagement.compensation import offers
from bot.engagement.decisions import progress
from bot.engagement.decisions import publishing as decisions
from bot.engagement.decisions.publishing import DecisionFields
from bot.engagement.events.calendar import load_event, moved_to_offset
from bot.engagement.feedback.items import Said, new_item
from bot.engagement.polls.definition import load_poll, set_status
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.store.engagement import InputItem
from bot.store.models import OutboxItem, Resident
from tests.support.chat import Chat

GOLDEN = Path(__file__).parent / "golden"
POLLS = Path(__file__).parent / "polls"
DEMO = Path(__file__).resolve().parents[1] / "bot" / "engagement" / "demo"
UPDATE = os.environ.get("LOOPLINE_UPDATE_GOLDEN") == "1"

JOIN_EN = ["hi", "1", "yes", "skip"]
JOIN_ES = ["hola", "2", "sí", "omitir"]
JOIN_AR = ["مرحبا", "5", "نعم", "تخطي"]
JOIN_TG_EN = ["hi", "button:en", "button:yes", "skip"]
JOIN_TG_ES = ["hola", "button:es", "button:yes", "omitir"]
JOIN_TG_AR = ["مرحبا", "button:ar", "button:yes", "تخطي"]
JOIN_WA_ES = ["Hola, quiero información sobre las vacunas", "1", "button:yes", "omitir"]

# name: (channel, Telegram language_code, what the resident sends; "button:X" presses the button with value X)
SCENARIOS: dict[str, tuple[Channel, str | None, list[str]]] = {
    "onboarding_sms_en": (Channel.SMS, None, ["Hi", "1", "yes", "94110", "MENU"]),
    "onboarding_sms_es": (Channel.SMS, None, ["Hola", "2", "sí", "OMITIR", "AYUDA"]),
    "onboarding_sms_zh": (Channel.SMS, None, ["你好", "3", "是", "跳过", "帮助"]),
    "onboarding_sms_vi": (Channel.SMS, None, ["Xin chào", "4", "có", "Quận 1", "GIÚP"]),
    "onboarding_sms_ar": (Channel.SMS, None, ["مرحبا", "5", "نعم", "حي الشرق", "مساعدة"]),
    "onboarding_sms_fr": (Channel.SMS, None, ["Bonjour", "6", "oui", "passer", "AIDE"]),
    "onboarding_words_sms_es": (Channel.SMS, None, ["hola", "español", "Si", "Este de Oakland"]),
    "onboarding_telegram_es": (Channel.TELEGRAM, "es-MX", ["hola", "button:es", "button:yes", "94110"]),
    "onboarding_telegram_ar": (Channel.TELEGRAM, "ar", ["مرحبا", "button:ar", "button:no", "مرحبا"]),
    "onboarding_telegram_en": (Channel.TELEGRAM, "en", ["/start", "button:en", "button:yes", "button:stale"]),
    # WhatsApp: no language hint (the first message's language preselected), numbers for six choices, quick-reply
    # buttons for two or three (the choices a reply carries; whether they go as buttons is decided when it is sent).
    "onboarding_whatsapp_vi": (
        Channel.WHATSAPP,
        None,
        ["Xin chào, tôi muốn hỏi về lịch tiêm chủng", "1", "button:yes", "Quận 1", "DỪNG"],
    ),
    "poll_kinds_whatsapp_es": (
        Channel.WHATSAPP,
        None,
        [*JOIN_WA_ES, "tipos", "manzana", "1,2", "1", "5", "button:yes", "Nada más"],
    ),
    # The first message's language (issue 17): a clear first message in a language offers it first, in it, and "1"
    # (or a yes) continues in it; a short or unclear one gets the usual menu; another number picks another language.
    "first_message_sms_en": (Channel.SMS, None, ["Hi, where can I get a flu shot for my kids?", "1", "yes", "skip"]),
    "first_message_sms_es": (Channel.SMS, None, ["Hola, quiero información sobre las vacunas", "1", "sí", "omitir"]),
    "first_message_sms_zh": (Channel.SMS, None, ["你好，我想问一下打疫苗的事", "1", "是", "跳过"]),
    "first_message_sms_vi": (Channel.SMS, None, ["Xin chào, tôi muốn hỏi về tiêm ngừa", "1", "có", "bỏ qua"]),
    "first_message_sms_ar": (Channel.SMS, None, ["مرحبا، أريد أن أسأل عن اللقاحات", "1", "نعم", "تخطي"]),
    "first_message_sms_fr": (
        Channel.SMS,
        None,
        ["Bonjour, je voudrais des informations sur les vaccins", "1", "oui", "passer"],
    ),
    # HELP first (no conversation started): the next message may still tell the language.
    "first_message_after_help_sms_es": (
        Channel.SMS,
        None,
        ["AYUDA", "Hola, quiero información sobre las vacunas", "1"],
    ),
    "first_message_unclear_sms": (Channel.SMS, None, ["👍", "ok", "1", "yes", "skip"]),
    "first_message_other_choice_sms_es": (Channel.SMS, None, ["Hola, necesito ayuda con la renta", "2", "yes", "skip"]),
    "first_message_yes_sms_fr": (Channel.SMS, None, ["bonjour c'est pour des renseignements", "oui", "d'accord"]),
    "first_message_not_understood_sms_ar": (Channel.SMS, None, ["السلام عليكم، عندي سؤال عن العيادة", "ربما", "1"]),
    # The consent question takes what every yes/no question takes.
    "consent_in_own_words_sms_es": (Channel.SMS, None, ["hola", "2", "sí claro", "omitir"]),
    "consent_in_own_words_sms_en": (Channel.SMS, None, ["hi", "1", "yes please", "skip"]),
    "consent_in_own_words_sms_vi": (Channel.SMS, None, ["Xin chào", "4", "vâng ạ", "bỏ qua"]),
    "consent_in_own_words_sms_ar": (Channel.SMS, None, ["مرحبا", "5", "نعم من فضلك", "تخطي"]),
    "decline_then_return_sms_en": (Channel.SMS, None, ["hi", "1", "no", "hello again"]),
    "misses_are_skipped_sms_es": (Channel.SMS, None, ["hola", "2", "quizás", "tal vez", "no sé", "hola"]),
    "keywords_mid_flow_sms_en": (Channel.SMS, None, ["hi", "HELP", "1", "Menu", "yes", "skip", "LANGUAGE", "2"]),
    "stop_and_start_sms_es": (
        Channel.SMS,
        None,
        ["hola", "2", "si", "omitir", "ALTO", "hola", "1", "AYUDA", "COMENZAR", "hola"],
    ),
    "stop_words_every_language_sms": (
        Channel.SMS,
        None,
        ["hi", "Parar", "START", "arrêt", "START", "DỪNG", "START", "退订", "START", "توقف", "START"],
    ),
    # Typed without its tones, DUNG could be đúng ("right"): asked about, not taken as DỪNG.
    "stop_during_onboarding_telegram_vi": (
        Channel.TELEGRAM,
        "vi",
        ["chào", "button:vi", "DUNG", "DỪNG", "chào", "BẮT ĐẦU"],
    ),
    # Vietnamese words that fold into a stop word are words; names too; asked only where the bare form is unclear.
    "ordinary_words_are_not_stop_sms_vi": (
        Channel.SMS,
        None,
        ["Xin chào", "4", "có", "Quận 8", "đúng", "Dũng", "dùng", "Huy", "dung nhan tin nua", "BẮT ĐẦU"],
    ),
    # Revocation by reasonable means: other words, other languages, a misspelling; a noun "stop" is not one.
    "stop_in_other_words_sms": (
        Channel.SMS,
        None,
        [
            *JOIN_EN,
            "stop please",
            "START",
            "please stop texting me",
            "START",
            "no más mensajes",
            "START",
            "arrêtez svp",
            "START",
            "不要再发了",
            "START",
            "STOPP",
            "START",
            "sotp",
            "the bus stop has no light",
        ],
    ),
    # Polls: every question kind (tests/polls/all_kinds.yaml), answered the way people type.
    "poll_kinds_sms_en": (
        Channel.SMS,
        None,
        [*JOIN_EN, "KINDS", "mango", "1 and 3", "3,1", "four stars", "yep", "More shade at bus stops"],
    ),
    # Numbers are never silently wrong: out of range, zero, negative, a decimal get the valid range again.
    "numbers_out_of_range_sms_en": (
        Channel.SMS,
        None,
        [*JOIN_EN, "KINDS", "0", "-1", "2", "2.5", "1,3", "1, 9", "3 1 2", "6", "-4", "4", "-2", "2", "skip"],
    ),
    # Labels with numbers: "10 de la noche" by its words, "2" by position, "10" (no such position) asked again.
    "numbers_in_labels_sms_es": (Channel.SMS, None, [*JOIN_ES, "HORARIO", "10", "10 de la noche"]),
    "numbers_in_labels_sms_en": (Channel.SMS, None, [*JOIN_EN, "HOURS", "11pm"]),
    "position_beats_label_sms_en": (Channel.SMS, None, [*JOIN_EN, "HOURS", "2"]),
    "poll_kinds_sms_es": (
        Channel.SMS,
        None,
        [*JOIN_ES, "TIPOS", "manzanna", "lunes y sabado", "3 1 2", "5", "si", "omitir"],
    ),
    "poll_kinds_sms_ar": (Channel.SMS, None, [*JOIN_AR, "أنواع", "٢", "١ و ٣", "٣ ١", "٤", "نعم", "حدائق أكثر"]),
    "poll_kinds_telegram_en": (
        Channel.TELEGRAM,
        "en",
        [*JOIN_TG_EN, "KINDS", "button:pear", "2", "2 3 1", "button:3", "button:no", "skip"],
    ),
    "poll_kinds_telegram_es": (
        Channel.TELEGRAM,
        "es",
        [*JOIN_TG_ES, "tipos", "button:apple", "1,2", "1", "button:5", "button:yes", "Nada más"],
    ),
    "poll_kinds_telegram_ar": (
        Channel.TELEGRAM,
        "ar",
        [*JOIN_TG_AR, "أنواع", "button:mango", "الكل", "2 1", "button:4", "button:yes", "تخطي"],
    ),
    "poll_misses_and_resume_sms_en": (
        Channel.SMS,
        None,
        [*JOIN_EN, "HEALTH", "banana", "7", "MENU", "POLL", "apple", "LANGUAGE", "2", "lunes", "ALTO"],
    ),
    # POLL while three polls are open: which one, numbered, in the resident's language; a wrong number re-asks.
    "which_poll_sms_es": (Channel.SMS, None, [*JOIN_ES, "ENCUESTA", "9", "3", "2", "ENCUESTA"]),
    "which_poll_sms_vi": (Channel.SMS, None, ["Xin chào", "4", "có", "bỏ qua", "KHẢO SÁT", "1"]),
    "which_poll_telegram_en": (Channel.TELEGRAM, "en", [*JOIN_TG_EN, "POLL", "button:poll-clinic-hours"]),
    "demo_poll_sms_es": (Channel.SMS, None, [*JOIN_ES, "SALUD", "salud mental", "2 4 1", "Más clínicas"]),
    # About me (issue 14): offered once after joining, its own consent, "prefer not to say" and own words, MY DATA
    # (counts, never words), DELETE MY DATA (about me at once, the rest after a yes); something else said instead
    # of answering the offer is kept as input and the offer ends.
    # Compensation (issue 14): HERE and the code shown at an event, in each language (alone it asks for the code; a
    # wrong one is named; twice is once), then how they want to be paid, and where to send a mobile payment.
    "check_in_sms_en": (
        Channel.SMS,
        None,
        [*JOIN_EN, "HERE", "HERE 1234", "HERE 4821", "3", "@maria.l", "here 4821"],
    ),
    "check_in_sms_es": (Channel.SMS, None, [*JOIN_ES, "no", "AQUÍ 4821", "1", "Aquí 4821"]),
    "check_in_sms_zh": (Channel.SMS, None, ["你好", "3", "是", "跳过", "否", "签到", "签到 4821", "2"]),
    "check_in_sms_vi": (
        Channel.SMS,
        None,
        ["Xin chào", "4", "có", "bỏ qua", "không", "CÓ MẶT 4821", "3", "0903 123 456"],
    ),
    "check_in_sms_ar": (Channel.SMS, None, [*JOIN_AR, "لا", "حاضر ٤٨٢١", "1"]),
    "check_in_sms_fr": (Channel.SMS, None, ["Bonjour", "6", "oui", "passer", "non", "ICI 9999", "ICI 4821", "passer"]),
    "check_in_telegram_es": (Channel.TELEGRAM, "es", [*JOIN_TG_ES, "button:no", "AQUÍ 4821", "button:cash"]),
    # Proposals (issue 15): PROPOSE in each language, told its reference; SUPPORT and a published proposal's number,
    # once (twice is once), told how many support it; a number that is no published proposal is named.
    "propose_sms_en": (
        Channel.SMS,
        None,
        [*JOIN_EN, "no", "PROPOSE", "Free clinic hours on Saturdays", "SUPPORT 4821", "support 4821", "SUPPORT 1111"],
    ),
    "propose_sms_es": (Channel.SMS, None, [*JOIN_ES, "no", "IDEA", "Más sombra en las paradas", "APOYO 4821"]),
    "propose_sms_zh": (Channel.SMS, None, ["你好", "3", "是", "跳过", "否", "提议", "公园需要更多路灯", "支持 4821"]),
    "propose_sms_vi": (
        Channel.SMS,
        None,
        ["Xin chào", "4", "có", "bỏ qua", "không", "ĐỀ XUẤT", "Thêm phiên dịch ở phòng khám", "ỦNG HỘ 4821"],
    ),
    "propose_sms_ar": (Channel.SMS, None, [*JOIN_AR, "لا", "اقتراح", "عيادة مسائية في الحي", "ادعم ٤٨٢١"]),
    "propose_sms_fr": (
        Channel.SMS,
        None,
        ["Bonjour", "6", "oui", "passer", "non", "PROPOSER", "Des bancs au parc", "SOUTENIR 4821", "soutenir 4821"],
    ),
    "propose_telegram_es": (
        Channel.TELEGRAM,
        "es",
        [*JOIN_TG_ES, "button:no", "PROPUESTA", "Fuentes de agua", "APOYO 4821"],
    ),
    # Decisions that keep going (issue 15): feedback, then a decision linked to it is published and implemented;
    # 31 days later the check-back sweep asks "Did it happen?" (do:check-back shows what it sent); an answer and a
    # comment (kept as input).
    "check_back_sms_en": (
        Channel.SMS,
        None,
        [*JOIN_EN, "no", "FEEDBACK", "We need interpreters", "1", "1", "do:check-back", "2", "Only on Saturdays"],
    ),
    "check_back_sms_es": (
        Channel.SMS,
        None,
        [*JOIN_ES, "no", "COMENTARIO", "Faltan intérpretes", "1", "1", "do:check-back", "1", "omitir"],
    ),
    "check_back_sms_zh": (
        Channel.SMS,
        None,
        ["你好", "3", "是", "跳过", "否", "反馈", "需要翻译", "1", "1", "do:check-back", "3", "还没有"],
    ),
    "check_back_sms_vi": (
        Channel.SMS,
        None,
        ["Xin chào", "4", "có", "bỏ qua", "không", "GÓP Ý", "Cần phiên dịch", "1", "1", "do:check-back", "2", "bỏ qua"],
    ),
    "check_back_sms_ar": (
        Channel.SMS,
        None,
        [*JOIN_AR, "لا", "رأي", "نحتاج مترجمين", "1", "1", "do:check-back", "1", "شكراً"],
    ),
    "check_back_sms_fr": (
        Channel.SMS,
        None,
        [
            "Bonjour",
            "6",
            "oui",
            "passer",
            "non",
            "AVIS",
            "Il faut des interprètes",
            "1",
            "1",
            "do:check-back",
            "2",
            "passer",
        ],
    ),
    "check_back_telegram_es": (
        Channel.TELEGRAM,
        "es",
        [
            *JOIN_TG_ES,
            "button:no",
            "COMENTARIO",
            "Faltan intérpretes",
            "button:health_services",
            "button:yes",
            "do:check-back",
            "button:partly",
            "omitir",
        ],
    ),
    # The trust pulse (issue 15): a month after joining, the sweep asks the standing question (do:trust-pulse shows
    # what it sent); an answer, in each language.
    "trust_pulse_sms_en": (Channel.SMS, None, [*JOIN_EN, "no", "do:trust-pulse", "4"]),
    "trust_pulse_sms_es": (Channel.SMS, None, [*JOIN_ES, "no", "do:trust-pulse", "2"]),
    "trust_pulse_sms_zh": (Channel.SMS, None, ["你好", "3", "是", "跳过", "否", "do:trust-pulse", "5"]),
    "trust_pulse_sms_vi": (Channel.SMS, None, ["Xin chào", "4", "có", "bỏ qua", "không", "do:trust-pulse", "9", "3"]),
    "trust_pulse_sms_ar": (Channel.SMS, None, [*JOIN_AR, "لا", "do:trust-pulse", "٤"]),
    "trust_pulse_sms_fr": (Channel.SMS, None, ["Bonjour", "6", "oui", "passer", "non", "do:trust-pulse", "passer"]),
    "trust_pulse_telegram_es": (Channel.TELEGRAM, "es", [*JOIN_TG_ES, "button:no", "do:trust-pulse", "button:1"]),
    "about_me_sms_en": (
        Channel.SMS,
        None,
        [
            *JOIN_EN,
            "yes",
            "2",
            "1 8",
            "Filipino American",
            "4",
            "Genderfluid",
            "1",
            "no",
            "1",
            "MY DATA",
            "DELETE MY DATA",
            "no",
            "MY DATA",
            "DELETE MY DATA",
            "yes",
            "hi",
        ],
    ),
    "about_me_sms_es": (
        Channel.SMS,
        None,
        [*JOIN_ES, "sí", "3", "3", "1", "2", "2", "1", "MIS DATOS", "BORRAR MIS DATOS", "sí", "hola"],
    ),
    "about_me_sms_zh": (
        Channel.SMS,
        None,
        ["你好", "3", "是", "跳过", "是", "跳过", "9", "5", "3", "2", "跳过", "我的数据", "删除我的数据", "否"],
    ),
    "about_me_sms_vi": (
        Channel.SMS,
        None,
        [
            "Xin chào",
            "4",
            "có",
            "bỏ qua",
            "có",
            "4",
            "1",
            "2",
            "4",
            "không",
            "1",
            "DỮ LIỆU CỦA TÔI",
            "XÓA DỮ LIỆU",
            "có",
        ],
    ),
    "about_me_sms_ar": (
        Channel.SMS,
        None,
        [*JOIN_AR, "لا", "عني", "نعم", "2", "4", "1", "5", "2", "2", "بياناتي", "احذف بياناتي", "نعم"],
    ),
    "about_me_sms_fr": (
        Channel.SMS,
        None,
        [
            "Bonjour",
            "6",
            "oui",
            "passer",
            "Il manque des bancs au parc",
            "À PROPOS DE MOI",
            "oui",
            "4",
            "7",
            "2",
            "6",
            "non",
            "2",
            "MES DONNÉES",
            "SUPPRIMER MES DONNÉES",
            "non",
        ],
    ),
    "about_me_telegram_es": (
        Channel.TELEGRAM,
        "es",
        [
            *JOIN_TG_ES,
            "button:yes",
            "button:25_34",
            "1 3",
            "button:woman",
            "button:es",
            "button:prefer_not",
            "button:rent",
            "MIS DATOS",
        ],
    ),
    # Feedback, with a reference and STATUS.
    "feedback_sms_en": (
        Channel.SMS,
        None,
        [
            *JOIN_EN,
            "FEEDBACK",
            "The clinic closes too early for shift workers.",
            "1",
            "yes",
            "STATUS 1234",
            "status 9999",
            "There is a strong gas smell on Folsom St near the school",
            "ok thanks",
            "STATUS",
        ],
    ),
    # Nothing a joined resident says is lost: outside a conversation it is kept as input, told its reference.
    "said_outside_a_conversation_is_kept_sms_es": (
        Channel.SMS,
        None,
        [*JOIN_ES, "ESTADO", "Hay basura acumulada en la calle 24 desde hace dos semanas", "gracias", "ESTADO"],
    ),
    "said_outside_a_conversation_is_kept_sms_vi": (
        Channel.SMS,
        None,
        ["Xin chào", "4", "có", "bỏ qua", "Đèn đường ở góc phố bị hỏng ba ngày rồi", "TRẠNG THÁI"],
    ),
    "feedback_sms_es": (
        Channel.SMS,
        None,
        [*JOIN_ES, "COMENTARIO", "Necesitamos más intérpretes en la clínica.", "omitir", "no", "ESTADO 1234"],
    ),
    "feedback_sms_ar": (Channel.SMS, None, [*JOIN_AR, "رأي", "نحتاج إلى مترجمين في العيادة", "٤", "نعم"]),
    "feedback_telegram_es": (
        Channel.TELEGRAM,
        "es",
        [*JOIN_TG_ES, "comentario", "Faltan bancos en el parque", "button:environment", "button:yes"],
    ),
    # Events: listing in the resident's language, RSVP, change of mind.
    "events_sms_en": (
        Channel.SMS,
        None,
        [*JOIN_EN, "EVENTS", "1", "maybe", "EVENTS", "town hall", "yes", "EVENTS", "2", "no"],
    ),
    "events_sms_es": (Channel.SMS, None, [*JOIN_ES, "EVENTOS", "1", "sí"]),
    "events_sms_ar": (Channel.SMS, None, [*JOIN_AR, "فعاليات", "٢", "ربما"]),
    "events_telegram_ar": (Channel.TELEGRAM, "ar", [*JOIN_TG_AR, "الفعاليات", "button:1", "button:yes"]),
    "events_telegram_en": (
        Channel.TELEGRAM,
        "en",
        [*JOIN_TG_EN, "EVENTS", "button:2", "button:maybe", "EVENTS", "button:2", "button:no"],
    ),
    "events_telegram_es": (Channel.TELEGRAM, "es", [*JOIN_TG_ES, "eventos", "button:1", "button:yes"]),
    "feedback_telegram_en": (
        Channel.TELEGRAM,
        "en",
        [*JOIN_TG_EN, "feedback", "More Vietnamese interpreters", "skip", "button:no", "STATUS 1234"],
    ),
    "feedback_telegram_ar": (
        Channel.TELEGRAM,
        "ar",
        [*JOIN_TG_AR, "ملاحظات", "الحديقة تحتاج إلى إنارة", "button:safety", "button:yes"],
    ),
}


# Issue 12 in each language, one conversation: consent in one's own words, HELP (the program's words and the contact
# in one's language), something said outside a conversation kept with its reference, bare STATUS, START while
# joined, events in the event's zone (the place with the question), a poll question answered out of range (the
# hint again, short) and then right, and STOP.
HEARD_RIGHT: dict[str, list[str]] = {
    "en": [
        "hi",
        "1",
        "sure",
        "skip",
        "HELP",
        "The streetlight on 5th St has been out for a week",
        "STATUS",
        "START",
        "EVENTS",
        "2",
        "maybe",
        "HEALTH",
        "0",
        "7",
        "1",
        "STOP",
    ],
    "es": [
        "hola",
        "2",
        "sí claro",
        "omitir",
        "AYUDA",
        "La luz de la calle 5 lleva una semana apagada",
        "ESTADO",
        "COMENZAR",
        "EVENTOS",
        "2",
        "tal vez",
        "SALUD",
        "0",
        "7",
        "1",
        "PARAR",
    ],
    "zh": [
        "你好",
        "3",
        "好的",
        "跳过",
        "帮助",
        "五街的路灯坏了一个星期了",
        "状态",
        "开始",
        "活动",
        "2",
        "也许",
        "健康",
        "0",
        "7",
        "1",
        "退订",
    ],
    "vi": [
        "Xin chào",
        "4",
        "vâng",
        "bỏ qua",
        "GIÚP",
        "Đèn đường ở đường số 5 hỏng cả tuần rồi",
        "TRẠNG THÁI",
        "BẮT ĐẦU",
        "SỰ KIỆN",
        "2",
        "có thể",
        "SUC KHOE",
        "0",
        "7",
        "1",
        "DỪNG",
    ],
    "ar": [
        "مرحبا",
        "5",
        "نعم بالتأكيد",
        "تخطي",
        "مساعدة",
        "مصباح الشارع في الشارع الخامس معطل منذ أسبوع",
        "الحالة",
        "ابدأ",
        "فعاليات",
        "2",
        "ربما",
        "صحة",
        "0",
        "7",
        "1",
        "توقف",
    ],
    "fr": [
        "Bonjour",
        "6",
        "oui bien sûr",
        "passer",
        "AIDE",
        "Le lampadaire de la 5e rue est en panne depuis une semaine",
        "STATUT",
        "COMMENCER",
        "ÉVÉNEMENTS",
        "2",
        "peut-être",
        "SANTE",
        "0",
        "7",
        "1",
        "ARRÊT",
    ],
}
SCENARIOS.update({f"heard_right_sms_{lang}": (Channel.SMS, None, said) for lang, said in HEARD_RIGHT.items()})
# On Telegram the language and consent are buttons, and a hint after a miss keeps the question's buttons.
SCENARIOS.update(
    {
        f"heard_right_telegram_{lang}": (Channel.TELEGRAM, hint, [said[0], f"button:{hint}", "button:yes", *said[3:]])
        for lang, hint, said in (("es", "es", HEARD_RIGHT["es"]), ("ar", "ar", HEARD_RIGHT["ar"]))
    }
)


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, so that golden files read like the conversation."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


def _world(runtime: Runtime) -> None:
    """A fixed clock and references, the every-kind poll open, and the demo events a week and two ahead."""
    clock = FixedClock(at=datetime(2026, 3, 2, 17, 0, tzinfo=UTC))
    runtime.clock = runtime.pipeline.clock = clock
    runtime.pipeline.settings = replace(runtime.pipeline.settings, timezone="America/Los_Angeles")
    runtime.pipeline.rng = random.Random(2026)
    with runtime.db.transaction() as session:
        for path in (POLLS / "all_kinds.yaml", POLLS / "clinic_hours.yaml", DEMO / "health-priorities.yaml"):
            poll, _version = load_poll(session, read_document(path), runtime.flows, clock)
            set_status(session, poll.slug, "open", clock.now())
        for name, days in (("health-fair.yaml", 7), ("town-hall.yaml", 14)):
            load_event(session, moved_to_offset(read_document(DEMO / name), clock.now(), days), clock.now())


def _listening_session(runtime: Runtime) -> None:
    """An event starting within the hour that pays $25 for coming, with the check-in code 4821."""
    now = runtime.clock.now()
    document = {
        **read_document(DEMO / "health-fair.yaml"),
        "slug": "listening-session",
        "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=3)).isoformat(),
    }
    with runtime.db.transaction() as session:
        event = load_event(session, document, now)
        event.checkin_code = "4821"
        offers.set_offer(session, offers.parse_terms("25", "USD"), "staff@x", now, event_id=event.id)


def _published_proposal(runtime: Runtime) -> None:
    """A proposal #4821 someone made in Spanish, published, with one supporter already."""
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        author = Resident(locale="es", consent="granted", fields={}, created_at=now, updated_at=now)
        session.add(author)
        session.flush()
        said = Said("sms", "es", now)
        item = new_item(session, author, said, ref=4821, kind="proposal", text="Una clínica abierta los sábados")
        session.flush()
        proposal = proposals.received(session, item, now)
        proposal.state, proposal.published_at = "published", now
        session.flush()
        proposals.support(session, proposal.id, author, ("sms", "es"), now)


def _check_back(runtime: Runtime, resident: Chat) -> list[Any]:
    """A decision linked to every input item is published and implemented; 31 days later the check-back sweep runs:
    what it sent this resident."""
    now, program = runtime.clock.now(), Program.of(runtime.pipeline.settings)
    texts = {
        "title": {"en": "Interpreters at every clinic", "es": "Intérpretes en cada clínica"},
        "summary": {"en": "Yes."},
    }
    with runtime.db.transaction() as session:
        decision = decisions.create(session, DecisionFields(texts=texts, slug="interpreters"), "en", "staff", now)
        for ref in session.scalars(select(InputItem.ref)):
            decisions.link_item(session, decision, ref, "acted_on", "staff", now)
        decisions.publish(session, decision, program, runtime.flows, "staff", now)
        progress.move(session, decision, "implemented", {}, "staff", now, program)
        check_backs(session, now + timedelta(days=31), Schedule(program=program), runtime.flows)
        asked = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key.startswith("check-back:"))).all()
        return [_said_by_program(row) for row in asked if row.address == resident.address]


def _said_by_program(row: OutboxItem) -> Any:
    """A message the program sent, as a transcript shows it (with its buttons, on a channel that has them)."""
    choices = (row.choices or {}).get("choices") or []
    return {"text": row.text, "buttons": [f"{value} | {label}" for value, label in choices]} if choices else row.text


def _trust_pulse(runtime: Runtime, resident: Chat) -> list[Any]:
    """40 days later, the trust pulse sweep runs: what it sent this resident."""
    program = Program.of(runtime.pipeline.settings)
    with runtime.db.transaction() as session:
        trust_pulses(session, runtime.clock.now() + timedelta(days=40), Schedule(program=program), runtime.flows)
        asked = session.scalars(select(OutboxItem).where(OutboxItem.idempotency_key.startswith("trust:"))).all()
        return [_said_by_program(row) for row in asked if row.address == resident.address]


def _play(chat: Callable[..., Chat], name: str, runtime: Runtime) -> list[dict[str, Any]]:
    channel, hint, inputs = SCENARIOS[name]
    resident = chat(channel, "+14155550123" if channel is Channel.SMS else "5550123", language_hint=hint)
    transcript: list[dict[str, Any]] = []
    for text in inputs:
        if text in SWEEPS:
            transcript.append({"resident": text, "bot": SWEEPS[text](runtime, resident)})
            continue
        button = text.startswith("button:")
        said = resident.send(text.removeprefix("button:"), button=button)
        bot: list[Any] = [
            {"text": s.text, "buttons": [f"{value} | {label}" for value, label in s.buttons]} if s.buttons else s.text
            for s in said
        ]
        transcript.append({"resident": text, "bot": bot})
    return transcript


SWEEPS: dict[str, Callable[[Runtime, Chat], list[Any]]] = {"do:check-back": _check_back, "do:trust-pulse": _trust_pulse}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_transcript(name: str, chat: Callable[..., Chat], runtime: Runtime, database_url: str) -> None:
    _world(runtime)
    if name.startswith("check_in"):
        _listening_session(runtime)
    if name.startswith("propose"):
        _published_proposal(runtime)
    path = GOLDEN / f"{name}.yaml"
    transcript = _play(chat, name, runtime)
    if UPDATE and database_url.startswith("sqlite"):
        path.write_text(
            yaml.dump(transcript, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000), encoding="utf-8"
        )
    assert path.exists(), f"no golden file {path.name}: run LOOPLINE_UPDATE_GOLDEN=1 pytest {__file__}"
    expected = yaml.safe_load(path.read_text(encoding="utf-8"))
    for turn, (want, got) in enumerate(zip(expected, transcript, strict=True), 1):
        assert got == want, f"{name}, turn {turn} ({got['resident']!r})"


def test_every_golden_file_belongs_to_a_scenario() -> None:
    assert {p.stem for p in GOLDEN.glob("*.yaml")} == set(SCENARIOS)
