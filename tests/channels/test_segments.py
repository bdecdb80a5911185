"""Tests for SMS encoding detection, smart encoding and segment counting."""

from __future__ import annotations

import math
from datetime import time

import pytest
from babel.dates import format_time
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.segments import (
    GSM7_BASIC,
    GSM7_EXTENDED,
    SmsCost,
    analyse,
    encoding,
    segment_count,
    smart_encode,
)

GSM_CHARS = sorted(GSM7_BASIC | GSM7_EXTENDED)

# FACTS.md "SMS encoding and cost" test vectors, counted without smart encoding.
FACT_VECTORS = [
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("a" * 306, 2),
    ("a" * 307, 3),
    ("’" + "a" * 159, 3),
    ("ą" * 70, 1),
    ("ą" * 71, 2),
    ("ą" * 134, 2),
    ("ą" * 135, 3),
    ("€" * 80, 1),
    ("€" * 81, 2),
    ("a" * 66 + "😀" + "a" * 66, 3),
]


@pytest.mark.parametrize(("text", "expected"), FACT_VECTORS, ids=[f"v{i}" for i in range(len(FACT_VECTORS))])
def test_fact_vectors(text: str, expected: int) -> None:
    assert segment_count(text) == expected
    assert analyse(text, smart=False).segments == expected


def test_curly_apostrophe_fits_one_segment_with_smart_encoding() -> None:
    text = "’" + "a" * 159
    assert analyse(text, smart=False) == SmsCost("UCS-2", 3, 160, ("’",))
    assert analyse(text) == SmsCost("GSM-7", 1, 160, ())
    assert smart_encode(text) == "'" + "a" * 159


def test_empty_text_is_one_segment() -> None:
    assert segment_count("") == 1
    assert analyse("") == SmsCost("GSM-7", 1, 0, ())


def test_extension_pair_is_never_split() -> None:
    # 306 septets fit two 153-septet parts only if "€" (ESC + €) straddles the boundary; it may not.
    assert segment_count("a" * 152 + "€" + "a" * 7) == 2
    assert segment_count("a" * 152 + "€" + "a" * 152) == 3
    assert segment_count("a" * 151 + "€" + "a" * 153) == 2


def test_surrogate_pair_is_never_split() -> None:
    assert segment_count("😀" * 35) == 1
    assert segment_count("😀" * 36) == 2  # 72 units: 33 + 3 emoji would straddle 67
    assert segment_count("a" * 68 + "😀") == 1
    assert segment_count("a" * 69 + "😀") == 2


GSM_YES = list("éèùìòàÇñüäö¡¿£")
GSM_NO = list("áíóú")


@pytest.mark.parametrize("ch", GSM_YES)
def test_gsm_accented_letters(ch: str) -> None:
    assert encoding(ch) == "GSM-7"


@pytest.mark.parametrize("ch", GSM_NO)
def test_non_gsm_accented_letters(ch: str) -> None:
    assert encoding(ch) == "UCS-2"
    assert smart_encode(ch) == ch


def test_alphabet_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 code points minus the escape
    assert frozenset("^{}\\[~]|€\f") == GSM7_EXTENDED
    assert not GSM7_BASIC & GSM7_EXTENDED
    assert "`" not in GSM7_BASIC
    assert "ç" not in GSM7_BASIC


OTHER_SCRIPTS = [
    "Xin chào, bạn có khỏe không? Hẹn gặp lại “ngày mai”…",
    "Tiếng Việt có dấu: ắ ằ ẳ ẵ ặ ố ồ ổ ỗ ộ ứ ừ ử ữ ự",
    "Tie\u0302\u0301ng Vie\u0323\u0302t",  # decomposed Vietnamese
    "مرحبا، كيف حالك؟ موعدنا غداً\u00a0الساعة ٩",
    "你好，世界！明天见。",
    "こんにちは　ＡＢＣ",
    "Hi 👨\u200d👩\u200d👧 family",
    "señor Martínez — árbol",
]


@pytest.mark.parametrize("text", OTHER_SCRIPTS)
def test_other_scripts_are_left_alone(text: str) -> None:
    assert smart_encode(text) == text
    assert encoding(smart_encode(text)) == "UCS-2"
    assert analyse(text).encoding == "UCS-2"


SMART_CASES = [
    ("‘single’ “double” „low” «guillemets»", '\'single\' "double" "low" "guillemets"'),
    ("5′ 10″", "5' 10\""),
    ("one – two — three ‒ four ― five − six", "one - two - three - four - five - six"),
    ("wait…", "wait..."),
    ("a\u00a0b\u202fc\u2009d\u2007e\u2002f\u3000g", "a b c d e f g"),
    ("ＡＢＣ１２３！？＠", "ABC123!?@"),
    ("• one\n‣ two\n◦ three", "- one\n- two\n- three"),
    ("zero\u200bwidth\u200c\u2060\ufeff soft\u00adhyphen", "zerowidth softhyphen"),
    ("back`tick", "back'tick"),
    ("cafe\u0301", "café"),
    ("ok", "ok"),
]


@pytest.mark.parametrize(("text", "expected"), SMART_CASES)
def test_smart_encode(text: str, expected: str) -> None:
    assert encoding(text) == "UCS-2" or text == expected
    assert smart_encode(text) == expected
    assert encoding(expected) == "GSM-7"


def test_smart_encode_never_costs_more() -> None:
    # 70 ellipses are one UCS-2 segment but 210 septets (two segments) once expanded to "...".
    assert smart_encode("…" * 70) == "…" * 70
    assert smart_encode("…" * 30) == "..." * 30


def test_babel_time_is_gsm_after_smart_encoding() -> None:
    raw = format_time(time(9, 30), locale="en_US")
    assert "\u202f" in raw  # CLDR puts a narrow no-break space before AM/PM
    assert encoding(raw) == "UCS-2"
    fixed = smart_encode(raw)
    assert encoding(fixed) == "GSM-7"
    assert fixed == "9:30:00 AM"
    assert analyse(f"Your appointment is at {raw}.").encoding == "GSM-7"


def test_analyse_reports_offending_characters_in_order() -> None:
    cost = analyse("Hi ą😀 ą and á", smart=True)
    assert cost.encoding == "UCS-2"
    assert cost.ucs2_characters == ("ą", "😀", "á")
    assert cost.characters == len("Hi ą😀 ą and á")
    assert analyse("“hi” ą", smart=False).ucs2_characters == ("“", "”", "ą")


# --- properties -----------------------------------------------------------------------------------


def gsm_greedy(text: str) -> int:
    """Independent reference: chunk the septet string, backing off one septet before a dangling ESC."""
    septets = "".join("\x1b" + ch if ch in GSM7_EXTENDED else ch for ch in text)
    if len(septets) <= 160:
        return 1
    count = 0
    while septets:
        take = 152 if septets[152:153] and septets[152] == "\x1b" else 153
        septets = septets[take:]
        count += 1
    return count


def ucs2_greedy(text: str) -> int:
    units = text.encode("utf-16-le")
    n = len(units) // 2
    if n <= 70:
        return 1
    count, pos = 0, 0
    while pos < n:
        end = min(pos + 67, n)
        last = int.from_bytes(units[2 * end - 2 : 2 * end], "little")
        if end < n and 0xD800 <= last <= 0xDBFF:  # high surrogate would be orphaned
            end -= 1
        pos = end
        count += 1
    return count


gsm_text = st.lists(st.one_of(st.sampled_from(GSM_CHARS), st.sampled_from(sorted(GSM7_EXTENDED))), max_size=700).map(
    "".join
)
# Lone surrogates (category Cs) cannot occur in text that reaches us over HTTP, so leave them out.
chars = st.characters(exclude_categories=["Cs"])
any_text = st.text(
    alphabet=st.one_of(chars, st.sampled_from(GSM_CHARS), st.sampled_from(["😀", "€", "ą"])),
    max_size=400,
)


@given(any_text, st.one_of(chars, st.sampled_from(["€", "😀", "a", "ą"])))
def test_segment_count_positive_and_monotonic(text: str, ch: str) -> None:
    n = segment_count(text)
    assert n >= 1
    assert segment_count(text + ch) >= n


@given(gsm_text)
def test_gsm_segments_match_reference(text: str) -> None:
    assert encoding(text) == "GSM-7"
    units = len(text) + sum(ch in GSM7_EXTENDED for ch in text)
    expected = gsm_greedy(text)
    assert segment_count(text) == expected
    if units > 160:
        # The no-split rule can only add segments over the naive ceil, never remove them.
        assert expected >= math.ceil(units / 153)


@given(any_text)
def test_ucs2_segments_match_reference(text: str) -> None:
    if encoding(text) == "UCS-2":
        assert segment_count(text) == ucs2_greedy(text)


@given(any_text)
def test_smart_encode_is_all_or_nothing_and_idempotent(text: str) -> None:
    out = smart_encode(text)
    assert out == text or encoding(out) == "GSM-7"
    assert smart_encode(out) == out
    assert analyse(text).segments <= analyse(text, smart=False).segments
