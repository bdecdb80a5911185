"""A resident's data: export everything held about them, and erase it (their input stays counted, text erased)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.engagement.residents import privacy
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import InputItem
from bot.store.models import Address, Message, Resident
from tests.e2e.test_cli import _run
from tests.support.chat import Chat

ANA, BEN = "+14155550142", "+14155550143"
FEEDBACK = ("hi", "2", "sí", "94110", "COMENTARIO", "Necesitamos una clínica nocturna.", "1", "sí")


def _count(runtime: Runtime, model: type, *where: object) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]


def test_export_then_erase_one_resident(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    for number in (ANA, BEN):
        resident = chat(Channel.SMS, number)
        for text in FEEDBACK:
            resident.send(text)
    with runtime.db.transaction() as session:
        ana = privacy.find_resident(session, address="+1 415-555-0142")
        assert ana is not None
        data = privacy.export(session, ana)
        ana_id = ana.id
    assert data["addresses"] == [{"channel": "sms", "value": ANA, "reachable": True}]
    assert data["resident"]["area"] == "94110" and data["resident"]["locale"] == "es"
    assert [m["text"] for m in data["messages"] if m["direction"] == "in"] == list(FEEDBACK)
    assert [i["text"] for i in data["input"]] == ["Necesitamos una clínica nocturna."]
    assert [c["state"] for c in data["consent_history"]] == ["granted"]
    json.dumps(data)  # JSON-ready

    with runtime.db.transaction() as session:
        ana = session.get(Resident, ana_id)
        assert ana is not None
        counts = privacy.erase(session, ana)
    assert counts["messages"] >= len(FEEDBACK) * 2 - 1 and counts["input_items_anonymised"] == 1
    assert _count(runtime, Resident, Resident.id == ana_id) == 0
    assert _count(runtime, Address, Address.value == ANA) == 0
    assert _count(runtime, Message, Message.address == ANA) == 0
    with runtime.db.transaction() as session:
        texts = sorted(session.scalars(select(InputItem.text)))
    assert texts == sorted([privacy.ERASED_TEXT, "Necesitamos una clínica nocturna."])  # Ben's stays
    assert _count(runtime, Message, Message.address == BEN) > 0


@pytest.mark.e2e
def test_cli_export_and_erase_by_address(tmp_path: Path) -> None:
    assert _run(["migrate"], tmp_path).returncode == 0
    assert _run(["chat", "--as", "web-ana"], tmp_path, stdin="hi\n1\nyes\nskip\n").returncode == 0
    exported = _run(["residents", "export", "--address", "web-ana"], tmp_path)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["addresses"][0]["value"] == "web-ana"
    missing = _run(["residents", "export", "--address", "nobody"], tmp_path)
    assert missing.returncode == 1 and "no such resident" in missing.stderr
    erased = _run(["residents", "erase", "--address", "web-ana", "--yes"], tmp_path)
    assert erased.returncode == 0 and erased.stdout.startswith(f"erased resident #{data['resident']['id']}")
    assert _run(["residents", "export", "--address", "web-ana"], tmp_path).returncode == 1
    assert _run(["residents", "erase"], tmp_path).returncode == 2
