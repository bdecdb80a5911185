"""Canonical areas: a CSV of the program's areas, what residents type matched to them (exact, alias, ZIP, case and
accents, a small typo; unsure is kept as typed), spellings staff map once for everyone, and results and audiences
by area."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.engagement import areas
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.broadcasts.audiences import AudienceError, parse_audience
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import AuditEvent
from bot.store.models import Resident
from tests.support.chat import Chat
from tests.test_broadcasts import NOTICE

CSV = """\
code,zips,aliases,name_en,name_es,name_vi
mission,94110,the mission|la mision,Mission District,La Misión,Quận Mission
bayview,94124 94107,hunters point,Bayview,Bayview,
district-8,,quan 8,District 8,Distrito 8,Quận 8
"""
TYPED = {
    "la mision": "Mission District",
    "La Misión": "Mission District",
    "MISSION DISTRICT": "Mission District",
    "Misson District": "Mission District",  # a small typo
    "I live at 94110, near 24th": "Mission District",
    "the Mission": "Mission District",
    "quận 8": "District 8",
    "Quan 8": "District 8",
    "94107": "Bayview",
    "Hunters Point": "Bayview",
    "Oakland": "Oakland",  # no such area: kept as typed
    "94110 or 94124": "94110 or 94124",  # two areas: unsure, kept as typed
}


def _load(runtime: Runtime) -> None:
    with runtime.db.transaction() as session:
        areas.load_areas(session, CSV, "en", "cli:test", runtime.clock.now())


def join(chat: Callable[..., Chat], number: str, area: str) -> Chat:
    resident = chat(Channel.SMS, number)
    for text in ("hi", "1", "yes", area):
        resident.send(text)
    return resident


def _areas(runtime: Runtime) -> dict[str, tuple[str | None, str | None]]:
    with runtime.db.transaction() as session:
        return {r.area_typed or "": (r.area, r.area_typed) for r in session.scalars(select(Resident))}


def test_what_residents_type_is_matched_to_the_programs_areas(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    _load(runtime)
    for n, typed in enumerate(TYPED):
        join(chat, f"+1415555{n:04d}", typed)
    found = _areas(runtime)
    assert {typed: found[typed][0] for typed in TYPED} == TYPED
    assert all(found[typed][1] == typed for typed in TYPED)  # what was typed is kept


def test_areas_loaded_later_place_residents_and_their_answers(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    join(chat, "+14155550001", "la mision")
    join(chat, "+14155550002", "the Mish")  # no name, alias, ZIP or near spelling: staff map it
    assert _areas(runtime)["la mision"][0] == "la mision"  # no areas yet: kept as typed
    _load(runtime)
    assert _areas(runtime)["la mision"][0] == "Mission District"
    with runtime.db.transaction() as session:
        assert areas.unmatched(session) == [("the Mish", 1)]
        moved = areas.map_spelling(session, "The Mish", "mission", "en", "user:staff@x.org", runtime.clock.now())
        assert moved == 1 and areas.unmatched(session) == []
        assert session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("areas.%"))).all() == [
            "areas.load",
            "areas.map",
        ]
    assert _areas(runtime)["the Mish"][0] == "Mission District"
    # Anyone writing that spelling from now on lands in the area too.
    join(chat, "+14155550003", "THE MISH")
    assert _areas(runtime)["THE MISH"][0] == "Mission District"


def test_an_areas_file_with_errors_lists_them_all_and_stores_nothing(runtime: Runtime) -> None:
    bad = "code,zips,name_en\nok,94110,Fine\nbad code!,9411,\nok,,Again\n"
    with runtime.db.transaction() as session, pytest.raises(areas.AreaError) as caught:
        areas.load_areas(session, bad, "en", "cli:test", runtime.clock.now())
    message = str(caught.value)
    assert "line 3: code 'bad code!'" in message and "line 3: give a name" in message
    assert (
        "line 3: ZIP codes are five digits, not '9411'" in message and "line 4: the code 'ok' is given twice" in message
    )
    with pytest.raises(areas.AreaError, match="the first line names the columns"):
        areas.parse_areas("zip,place\n94110,Mission\n")
    with runtime.db.transaction() as session:
        assert areas.AreaBook.read(session).words == {}


def test_audiences_name_an_area_by_code_zip_or_name(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    _load(runtime)
    for n, typed in enumerate(("la mision", "94110", "Bayview", "Oakland")):
        join(chat, f"+1415555{n:04d}", typed)
    with runtime.db.transaction() as session:

        def count(expression: str) -> int:
            return broadcasts.preview(session, NOTICE, parse_audience(expression), "en", 0.0).total

        assert count("area=mission") == count("area=94110") == count('area="La Misión"') == 2
        assert count("area=bayview,oakland") == 2
        with pytest.raises(AudienceError, match="no resident gave the area 'Narnia'"):
            count("area=Narnia")


def test_a_resident_reads_their_area_in_their_language(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    """Results told per area name the area in the resident's language ("La Misión"), filed under one name."""
    from bot.engagement.polls.public_results import tally_poll
    from bot.store.engagement import Poll
    from tests.support.voices import open_demo_poll

    _load(runtime)
    open_demo_poll(runtime)
    resident = join(chat, "+14155550009", "la mision")
    for text in ("HEALTH", "1", "skip", "skip"):
        resident.send(text)
    with runtime.db.transaction() as session:
        poll = session.scalars(select(Poll)).one()
        answers = tally_poll(session, poll, runtime.flows.latest_flows(session)[f"poll-{poll.slug}"])
    assert set(answers.area_of.values()) == {"Mission District"}
    assert answers.area_in("Mission District", "es") == "La Misión"
    assert answers.area_in("Mission District", "vi") == "Quận Mission"
    assert answers.area_in("Oakland", "es") == "Oakland"
