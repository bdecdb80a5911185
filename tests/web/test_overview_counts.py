"""Who counts as taking part: only residents who said yes to the consent question, whatever else they sent (START
before joining, STOP during onboarding, no, then START) — on the overview and in its language and area tables."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import select
from starlette.testclient import TestClient

from bot.messages import Channel
from bot.runtime import Runtime
from bot.states import Consent
from bot.store.models import Resident
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

# What each resident sends, and whether they end up taking part.
PATHS: dict[str, tuple[list[str], Consent]] = {
    "+14155550201": (["hi", "1", "yes", "94110"], Consent.GRANTED),
    "+14155550202": (["START"], Consent.PENDING),
    "+14155550203": (["hi", "START", "2", "START"], Consent.PENDING),
    "+14155550204": (["hi", "1", "no", "START"], Consent.PENDING),
    "+14155550205": (["hi", "1", "STOP", "START"], Consent.PENDING),
    "+14155550206": (["hi", "1", "no"], Consent.DECLINED),
    "+14155550207": (["hi", "3", "STOP"], Consent.REVOKED),
    "+14155550208": (["hi", "1", "no", "START", "yes", "skip"], Consent.GRANTED),
}


def test_only_residents_who_said_yes_are_taking_part(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    for number, (texts, _) in PATHS.items():
        resident = chat(Channel.SMS, number)
        for text in texts:
            resident.send(text)
    with runtime.db.transaction() as session:
        states = {r.id: r.consent for r in session.scalars(select(Resident).order_by(Resident.id))}
    assert list(states.values()) == [expected for _, expected in PATHS.values()]
    sign_in(client, make_user(runtime, "viewer"))
    page = client.get("/dashboard").text
    line = re.search(r'<p id="taking-part">(.*?)</p>', page)
    assert line is not None
    assert line.group(1) == "2 residents taking part, 1 opted out, 1 said no when asked, 4 not yet joined"
    languages = page[page.index("Residents taking part") :]
    assert "English" in languages and "中文" not in languages  # the Chinese speaker stopped before joining
