"""Golden transcripts: whole conversations through the real pipeline, per language and channel.

Each scenario's resident messages are below; what the bot said is in tests/golden/<scenario>.yaml.
After an intended change of wording, regenerate with `LOOPLINE_UPDATE_GOLDEN=1 pytest tests/test_golden.py`
and review the diff like any other change.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.messages import Channel
from tests.support.chat import Chat

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("LOOPLINE_UPDATE_GOLDEN") == "1"

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
    "stop_during_onboarding_telegram_vi": (Channel.TELEGRAM, "vi", ["chào", "button:vi", "DUNG", "chào", "BẮT ĐẦU"]),
}


class _Dumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, so that golden files read like the conversation."""


_Dumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


def _play(chat: Callable[..., Chat], name: str) -> list[dict[str, Any]]:
    channel, hint, inputs = SCENARIOS[name]
    resident = chat(channel, "+14155550123" if channel is Channel.SMS else "5550123", language_hint=hint)
    transcript: list[dict[str, Any]] = []
    for text in inputs:
        button = text.startswith("button:")
        said = resident.send(text.removeprefix("button:"), button=button)
        bot: list[Any] = [
            {"text": s.text, "buttons": [f"{value} | {label}" for value, label in s.buttons]} if s.buttons else s.text
            for s in said
        ]
        transcript.append({"resident": text, "bot": bot})
    return transcript


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden_transcript(name: str, chat: Callable[..., Chat], database_url: str) -> None:
    path = GOLDEN / f"{name}.yaml"
    transcript = _play(chat, name)
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
