"""Who is heard: a baseline of the population and the representation report against it — a scripted community in
which one group is under-represented is flagged exactly there, with the score 1 − ½·Σ|p − q|."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from bot.engagement import representation
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import Poll
from tests.support.chat import Chat
from tests.support.voices import WORDS, open_demo_poll

BASELINE = """\
dimension,group,population,area,source
language,en,4500,,Census-like test counts
language,es,3500,,
language,vi,2000,,
"""
# 15 in English, 12 in Spanish, 3 in Vietnamese: shares 50%, 40%, 10% against 45%, 35%, 20%.
COMMUNITY = {"en": 15, "es": 12, "vi": 3}


def _community(chat: Callable[..., Chat]) -> list[Chat]:
    people = []
    for locale, count in COMMUNITY.items():
        words = WORDS[locale]
        for n in range(count):
            resident = chat(Channel.SMS if n % 2 else Channel.TELEGRAM, f"+1415557{len(people):04d}")
            if n % 2:
                for text in (words["hello"], words["menu"], words["yes"], words["skip"]):
                    resident.send(text)
            else:
                resident.send(words["hello"])
                resident.send(locale, button=True)
                resident.send("yes", button=True)
                resident.send(words["skip"])
            people.append(resident)
    return people


def _load(runtime: Runtime, text: str = BASELINE) -> int:
    with runtime.db.transaction() as session:
        return representation.load_baseline(session, text, "en", "cli:test", runtime.clock.now())


def test_the_under_represented_group_is_flagged_exactly(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    _community(chat)
    assert _load(runtime) == 3
    with runtime.db.transaction() as session:
        found = representation.report(session)
    assert found.respondents == 30 and found.sources == ["Census-like test counts"]
    language = next(d for d in found.dimensions if d.dimension == "language")
    assert [g.group for g in language.groups if g.flagged] == ["vi"]
    shares = {g.group: (round(g.share, 3), g.population_share, round(g.ratio or 0, 3)) for g in language.groups}
    assert shares == {"en": (0.5, 0.45, 1.111), "es": (0.4, 0.35, 1.143), "vi": (0.1, 0.2, 0.5)}
    assert language.score == pytest.approx(1 - 0.5 * (0.05 + 0.05 + 0.1))
    channel = next(d for d in found.dimensions if d.dimension == "channel")
    assert channel.score is None and {g.group for g in channel.groups} == {"sms", "telegram"}  # no baseline


def test_a_polls_respondents_and_the_cli_formats(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    open_demo_poll(runtime)
    people = _community(chat)
    _load(runtime)
    for resident in people[:10] + people[-1:]:  # ten English speakers and one Vietnamese speaker answer
        resident.send("HEALTH")
        resident.send("1")
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    table = CliRunner().invoke(main, ["representation", "health-priorities"], env=env)
    assert table.exit_code == 0, table.output
    assert table.output.startswith("11 respondents; baseline: Census-like test counts")
    assert "es: 0 (0%) vs 35% of the population  UNDER-REPRESENTED" in table.output
    as_json = json.loads(CliRunner().invoke(main, ["representation", "--format", "json"], env=env).output)
    assert as_json["respondents"] == 30
    as_csv = CliRunner().invoke(main, ["representation", "health-priorities", "--format", "csv"], env=env).output
    assert as_csv.splitlines()[0].lstrip("\ufeff") == ",".join(representation_header())
    missing = CliRunner().invoke(main, ["representation", "nope"], env=env)
    assert missing.exit_code == 2 and "no poll 'nope'" in missing.output


def representation_header() -> tuple[str, ...]:
    from bot.cli.areas import REPORT_HEADER

    return REPORT_HEADER


def test_a_baseline_file_with_errors_lists_them_all_and_keeps_the_old_one(runtime: Runtime) -> None:
    _load(runtime)
    bad = "dimension,group,population\nlanguage,klingon,10\narea,atlantis,5\nlanguage,en,many\n"
    with pytest.raises(representation.BaselineError) as caught:
        _load(runtime, bad)
    message = str(caught.value)
    assert "line 2: language groups are" in message and "line 3: no area 'atlantis'" in message
    assert "line 4: population must be a whole number" in message
    with runtime.db.transaction() as session:
        assert representation.report(session).sources == ["Census-like test counts"]


def test_the_api_answers_for_a_poll_and_for_the_program(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from starlette.testclient import TestClient

    from bot.web.app import create_app
    from tests.support.staff import api_token, make_user

    open_demo_poll(runtime)
    people = _community(chat)
    _load(runtime)
    for resident in people[:3]:
        resident.send("HEALTH")
        resident.send("1")
    with TestClient(create_app(runtime, deliver=False)) as client:
        headers = {"Authorization": f"Bearer {api_token(runtime, make_user(runtime, 'viewer'))}"}
        poll = client.get("/api/v1/polls/health-priorities/representation", headers=headers).json()
        program = client.get("/api/v1/representation", headers=headers).json()
    assert poll["respondents"] == 3 and program["respondents"] == 30 and program["poll"] is None
    language = next(d for d in program["dimensions"] if d["dimension"] == "language")
    assert [g["group"] for g in language["groups"] if g["flagged"]] == ["vi"]


def test_the_poll_page_shows_who_answered_against_the_population(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from starlette.testclient import TestClient

    from bot.web.app import create_app
    from tests.support.staff import make_user, sign_in

    open_demo_poll(runtime)
    people = _community(chat)
    _load(runtime)
    for resident in people[:10]:  # English speakers only
        resident.send("HEALTH")
        resident.send("1")
    with TestClient(create_app(runtime, deliver=False)) as client:
        sign_in(client, make_user(runtime, "viewer"))
        page = client.get("/dashboard/polls/health-priorities").text
    section = page.split('id="representation"', 1)[1].split("</section>", 1)[0]
    assert "Census-like test counts" in section and 'aria-labelledby="representation-language-title' in section
    flagged = re.findall(r'<tr class="flagged"><th scope="row"[^>]*>([^<]+)</th>', section)
    assert flagged == ["Español (es)", "Tiếng Việt (vi)"]


def test_underrepresented_names_exactly_the_flagged_who_have_not_answered(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    """The re-invitation audience: Vietnamese speakers (the flagged group) who have not answered; one who answers
    leaves it, and as more answer the language score moves up."""
    from bot.engagement.broadcasts import sending as broadcasts
    from bot.engagement.broadcasts.audiences import parse_audience
    from tests.test_broadcasts import NOTICE

    open_demo_poll(runtime)
    people = _community(chat)
    _load(runtime)
    vietnamese = people[-3:]
    for resident in [*people[:12], vietnamese[0]]:  # twelve English speakers and one Vietnamese speaker answer
        resident.send("HEALTH")
        resident.send("1")

    def audience() -> tuple[int, float]:
        with runtime.db.transaction() as session:
            total = broadcasts.preview(session, NOTICE, parse_audience("underrepresented=health-priorities"), "en", 0.0)
            poll = session.scalars(select(Poll)).one()
            language = next(d for d in representation.report(session, poll).dimensions if d.dimension == "language")
            return total.total, language.score or 0.0

    before, score = audience()
    assert before == 12 + 2  # all twelve Spanish speakers and the two Vietnamese speakers who have not answered
    for resident in vietnamese[1:]:
        resident.send("SUC KHOE")
        resident.send("1")
    after, better = audience()
    assert after == 12 and better > score


def test_one_click_drafts_the_reinvitation(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from starlette.testclient import TestClient

    from bot.web.app import create_app
    from tests.support.staff import make_user, sign_in

    open_demo_poll(runtime)
    people = _community(chat)
    _load(runtime)
    for resident in people[:5]:
        resident.send("HEALTH")
        resident.send("1")
    with TestClient(create_app(runtime, deliver=False)) as client:
        sign_in(client, make_user(runtime, "staff"))
        page = client.get("/dashboard/polls/health-priorities").text
        link = re.search(r'id="reinvite" href="([^"]+)"', page)
        assert link is not None
        draft = client.get(link.group(1).replace("&amp;", "&")).text
    assert 'value="underrepresented=health-priorities"' in draft
    assert '<option value="poll:health-priorities" selected>' in draft


def test_the_poll_page_names_partners_who_reach_the_missing(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from starlette.testclient import TestClient

    from bot.staff import sharing
    from bot.store.staff import Organization
    from bot.web.app import create_app
    from tests.support.staff import make_user, sign_in

    open_demo_poll(runtime)
    people = _community(chat)
    _load(runtime)
    for resident in people[:10]:  # English speakers only: Spanish and Vietnamese are flagged
        resident.send("HEALTH")
        resident.send("1")
    make_user(runtime, "partner", "p1@x.org", organization="Promotoras del Este")
    make_user(runtime, "partner", "p2@x.org", organization="Chinatown Seniors")
    with runtime.db.transaction() as session:
        orgs = {o.name: o.id for o in session.scalars(select(Organization))}
        sharing.share(session, orgs["Promotoras del Este"], "audience", "language=es", runtime.clock.now())
        sharing.share(session, orgs["Chinatown Seniors"], "audience", "language=zh_Hans", runtime.clock.now())
    with TestClient(create_app(runtime, deliver=False)) as client:
        csrf = sign_in(client, make_user(runtime, "staff"))
        page = client.get("/dashboard/polls/health-priorities").text
        listed = page.split('id="partners-reaching"', 1)[1].split("</ul>", 1)[0]
        assert "Promotoras del Este" in listed and "Chinatown Seniors" not in listed  # Chinese is not missing
        shared = client.post(
            "/dashboard/polls/health-priorities/share",
            data={"csrf_token": csrf, "organization_id": str(orgs["Promotoras del Este"])},
            follow_redirects=True,
        )
    assert "the poll is shared with them" in shared.text.split('id="partners-reaching"', 1)[1].split("</ul>", 1)[0]
