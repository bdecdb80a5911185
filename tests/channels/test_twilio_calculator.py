"""Our SMS counts against Twilio's own segment calculator (npm sms-segments-calculator, run through Node): for
generated texts mixing GSM-7, its extension table, characters Smart Encoding replaces, other scripts and emoji, near
the 70/67 and 160/153 boundaries —

- what we send (smart-encoded, all or nothing) has the encoding and segment count Twilio's calculator gives it;
- a text Twilio's Smart Encoding would make GSM-7, we make GSM-7 too (our table holds all of Twilio's), in no more
  segments.

`make test` installs the calculator (.ci/install-peers); without Node or it, the test fails saying so."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest

from bot.channels.segments import _SMART_TABLE, GSM7_BASIC, GSM7_EXTENDED, encoding, segment_count, smart_encode
from tests.support.peers import REPO_ROOT

pytestmark = pytest.mark.e2e  # needs the Node peers `make test` installs
CALCULATOR = REPO_ROOT / ".peers" / "segments"
REPLACEABLE = "".join(sorted(chr(code) for code in _SMART_TABLE if code > 0x7F and code != 0xFEFF))
OTHERS = "áíóúąęćżłñ中文한국어ăâđêôơưạảấ" + "\U0001f600\U0001f489\u2764"
GSM = sorted(GSM7_BASIC - {"\r"}) + sorted(GSM7_EXTENDED - {"\f"})


def generated(count: int, seed: int = 2026) -> list[str]:
    """Texts from three families, at lengths around the segment boundaries: GSM-7 with characters Smart Encoding
    replaces; that and other scripts and emoji (stays UCS-2); plain GSM-7 with its extension table."""
    rng = random.Random(seed)
    families = [
        (GSM + list(REPLACEABLE) * 2, (60, 330)),
        (GSM + list(REPLACEABLE) + list(OTHERS), (1, 210)),
        (GSM, (150, 470)),
    ]
    texts = []
    for n in range(count):
        alphabet, (shortest, longest) = families[n % len(families)]
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(shortest, longest))))
    return texts


def twilio_verdicts(texts: list[str]) -> list[tuple[str, int, str, int]]:
    """Twilio's calculator on each text: (encoding, segments) as given, and with its Smart Encoding emulated."""
    node = shutil.which("node")
    script = CALCULATOR / "count.js"
    assert node, "node is not on PATH: Node 20 is required (make test installs the npm peers)"
    assert (CALCULATOR / "node_modules" / "sms-segments-calculator").is_dir(), (
        f"Twilio's calculator is not installed in {CALCULATOR}: run `bash .ci/install-peers` (make test does)"
    )
    done = subprocess.run(
        [node, str(script)], input=json.dumps(texts), capture_output=True, text=True, timeout=60, check=True
    )
    return [(str(a), int(b), str(c), int(d)) for a, b, c, d in json.loads(done.stdout)]


def test_our_counts_are_twilios() -> None:
    documented = ["a" * 160, "a" * 161, "a" * 306, "a" * 307, "\u2019" + "a" * 159, "ą" * 70, "ą" * 71, "ą" * 134]
    documented += ["ą" * 135, "€" * 80, "€" * 81, "a" * 66 + "\U0001f600" + "a" * 66]
    texts = documented + generated(1500)
    sent = [smart_encode(text) for text in texts]
    verdicts = twilio_verdicts(texts + sent)
    as_given, as_sent = verdicts[: len(texts)], verdicts[len(texts) :]
    wrong = []
    for text, ours, (twilio_encoding, twilio_segments, *_rest), (_e, _s, smart_encoding, smart_segments) in zip(
        texts, sent, as_sent, as_given, strict=True
    ):
        if (encoding(ours), segment_count(ours)) != (twilio_encoding, twilio_segments):
            wrong.append(f"count {text!r}: ours {encoding(ours)} {segment_count(ours)}, Twilio's {twilio_segments}")
        if smart_encoding == "GSM-7" and (encoding(ours) != "GSM-7" or segment_count(ours) > smart_segments):
            wrong.append(f"smart {text!r}: Twilio makes it GSM-7 in {smart_segments}, we send {encoding(ours)}")
    assert wrong == [], "\n".join(wrong[:10])
