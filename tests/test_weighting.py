"""Weighted results (issue 14, item 5): raking to the baseline's margins (iterative proportional fitting), weights
capped, the effective sample size and design effect, groups too small to weight named — and a scripted community
of 300 residents over SMS and Telegram, with known age bands and an under-represented language, whose weighted
margins meet the baseline's."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import select

from bot.engagement import representation, weighting
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.broadcasts.audiences import parse_audience
from bot.engagement.polls.report import latest_flow
from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import Poll
from tests.support.chat import Chat
from tests.support.voices import WORDS, open_demo_poll
from tests.test_broadcasts import NOTICE


def _groups(rows: list[tuple[int, str, str]]) -> dict[int, dict[str, str]]:
    """Respondents numbered from 0: `count` of each (language, channel)."""
    each = [(language, channel) for count, language, channel in rows for _ in range(count)]
    return {i: {"language": language, "channel": channel} for i, (language, channel) in enumerate(each)}


POPULATION = {"language": Counter({"en": 45, "es": 35, "vi": 20}), "channel": Counter({"sms": 70, "telegram": 30})}


def _shares(found: weighting.Weighting, dimension: str) -> dict[str, float]:
    return {m.group: m.weighted_share for m in found.margins if m.dimension == dimension}


def test_raking_meets_every_margin_at_once() -> None:
    groups = _groups([(150, "en", "sms"), (100, "en", "telegram"), (80, "es", "sms"), (20, "es", "telegram"),
                      (30, "vi", "sms"), (20, "vi", "telegram")])  # fmt: skip
    found = weighting.rake(groups, POPULATION, ["language", "channel"])
    assert found.dimensions == ["language", "channel"] and found.notes == []
    for dimension, margin in POPULATION.items():
        for group, share in _shares(found, dimension).items():
            assert share == pytest.approx(margin[group] / margin.total(), abs=0.005), (dimension, group)
    assert sum(found.weights.values()) == pytest.approx(len(groups))  # the mean weight is 1
    assert found.design_effect == pytest.approx(len(groups) / found.effective_size)
    assert found.effective_size < len(groups)


def test_effective_size_and_design_effect_by_hand() -> None:
    # 10 and 10 against 75% and 25%: weights 1.5 and 0.5; Σw = 20, Σw² = 25, so n_eff = 400/25 = 16, deff = 1.25.
    groups = {i: {"language": "en" if i < 10 else "es"} for i in range(20)}
    found = weighting.rake(groups, {"language": Counter({"en": 75, "es": 25})}, ["language"])
    assert sorted(set(round(w, 6) for w in found.weights.values())) == [0.5, 1.5]
    assert found.effective_size == pytest.approx(16.0) and found.design_effect == pytest.approx(1.25)


def test_weights_are_capped() -> None:
    # 5 Vietnamese speakers of 200 against 40% of the population would weigh 16 each: capped at 5.
    groups = {i: {"language": "vi" if i < 5 else ("en" if i < 120 else "es")} for i in range(200)}
    population = {"language": Counter({"en": 30, "es": 30, "vi": 40})}
    found = weighting.rake(groups, population, ["language"])
    assert found.largest <= weighting.CAP + 1e-6
    assert any("capped" in note for note in found.notes)


def test_a_group_too_small_to_weight_is_named_and_kept_at_its_share() -> None:
    groups = {i: {"language": "vi" if i < 3 else ("en" if i < 60 else "es")} for i in range(100)}
    found = weighting.rake(groups, POPULATION, ["language"])
    assert any(note.startswith("language vi: 3 respondents, fewer than 5") for note in found.notes)
    assert _shares(found, "language")["vi"] == pytest.approx(0.03)  # not weighted
    assert _shares(found, "language")["en"] == pytest.approx(0.97 * 45 / 80, abs=0.005)


def test_no_dimension_to_weight_says_so() -> None:
    found = weighting.rake({1: {"language": "en"}}, {}, ["language"])
    assert found.dimensions == [] and found.weights == {1: 1.0} and found.notes


# The community: 300 residents, half on SMS and half on Telegram; 150 English, 120 Spanish, 30 Vietnamese speakers
# (the population: 45%, 35%, 20%), each saying their age band (25-34 or 55-64; the population: 60%, 40%).
COMMUNITY = {"en": 150, "es": 120, "vi": 30}
BASELINE = """\
dimension,group,population,area,source
language,en,45000,,Scripted census
language,es,35000,,
language,vi,20000,,
age_band,25_34,60000,,
age_band,55_64,40000,,
"""
POLL_WORDS = {"en": "HEALTH", "es": "SALUD", "vi": "SUC KHOE"}


def _join(chat: Callable[..., Chat], n: int, locale: str) -> Chat:
    words = WORDS[locale]
    resident = chat(Channel.SMS if n % 2 else Channel.TELEGRAM, f"+1415558{n:04d}")
    resident.send(words["hello"])
    if n % 2:
        resident.send(words["menu"])
        resident.send(words["yes"])
    else:
        resident.send(locale, button=True)
        resident.send("yes", button=True)
    resident.send(words["skip"])
    resident.send(words["yes"])  # to the questions about oneself
    resident.send("3" if n % 5 < 3 else "6")  # 25-34 for three in five, else 55-64
    return resident


def _answer(resident: Chat, locale: str, choice: str) -> None:
    resident.send(POLL_WORDS[locale])  # passes over the question they were at
    resident.send(choice)


def test_a_scripted_community_is_weighted_back_to_the_population(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    open_demo_poll(runtime)
    people: list[tuple[Chat, str]] = []
    for locale, count in COMMUNITY.items():
        people += [(_join(chat, len(people) + i, locale), locale) for i in range(count)]
    with runtime.db.transaction() as session:
        representation.load_baseline(session, BASELINE, "en", "cli:test", runtime.clock.now())
    # Everyone but 15 Vietnamese speakers answers; clinics first in English, healthy food in Spanish and Vietnamese.
    waiting = [resident for resident, locale in people if locale == "vi"][15:]
    for resident, locale in people:
        if resident not in waiting:
            _answer(resident, locale, "1" if locale == "en" else "3")

    def measured() -> tuple[representation.Report, weighting.Weighting, int]:
        """As the pages read them: computed again only when what they come from changed."""
        with runtime.db.transaction() as session:
            poll = session.scalars(select(Poll)).one()
            audience = broadcasts.preview(
                session, NOTICE, parse_audience("underrepresented=health-priorities"), "en", 0.0
            )
            found, _questions = weighting.weighted(session, poll, latest_flow(session, runtime.flows, poll.slug))
            return representation.kept_report(session, poll), found, audience.total

    report, found, invited = measured()
    again, found_again, _invited = measured()
    assert again is report and found_again is found  # read again from what was computed: nothing changed
    flagged = [(d.dimension, g.group) for d in report.dimensions for g in d.groups if g.flagged]
    assert report.respondents == 285 and flagged == [("language", "vi")]
    assert invited == 15  # exactly the Vietnamese speakers who have not answered
    assert found.dimensions == ["language", "age_band"]
    margins = {"language": {"en": 0.45, "es": 0.35, "vi": 0.20}, "age_band": {"25_34": 0.6, "55_64": 0.4}}
    for dimension, shares in margins.items():
        for group, share in shares.items():
            assert _shares(found, dimension)[group] == pytest.approx(share, abs=0.005), (dimension, group)
    with runtime.db.transaction() as session:
        poll = session.scalars(select(Poll)).one()
        flow = latest_flow(session, runtime.flows, poll.slug)
        assert flow is not None
        results = weighting.weighted_results(session, poll, flow, found)
    top = next(q for q in results if q.question == "top_need")
    healthy_food = next(o for o in top.options if o.value == "healthy_food")
    assert healthy_food.weighted > healthy_food.percent  # Spanish and Vietnamese speakers counted as they should be
    # The re-invited answer: the group is no longer flagged, and the language score moves up.
    score = next(d.score for d in report.dimensions if d.dimension == "language")
    for resident in waiting:
        _answer(resident, "vi", "3")
    report, moved, invited = measured()
    assert invited == 0 and next(d.score for d in report.dimensions if d.dimension == "language") > (score or 0)
    assert moved is not found and len(moved.weights) == 300  # their answers are counted at once
    with runtime.db.transaction() as session:  # a new baseline is a new computation too
        representation.load_baseline(session, BASELINE.replace("20000", "30000"), "en", "cli:test", runtime.clock.now())
    reloaded, _found, _invited = measured()
    assert reloaded is not report


def test_staff_choose_the_dimensions_on_the_poll_page(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    from starlette.testclient import TestClient

    from bot.store.engagement import AuditEvent
    from bot.web.app import create_app
    from tests.support.staff import make_user, sign_in

    open_demo_poll(runtime)
    for n, locale in enumerate(["en"] * 6 + ["es"] * 6):
        _answer(_join(chat, n, locale), locale, "1")
    with runtime.db.transaction() as session:
        representation.load_baseline(session, BASELINE, "en", "cli:test", runtime.clock.now())
    with TestClient(create_app(runtime, deliver=False)) as client:
        csrf = sign_in(client, make_user(runtime, "staff"))
        assert (
            'href="/dashboard/polls/health-priorities/weighted"'
            in client.get("/dashboard/polls/health-priorities").text
        )
        page = client.get("/dashboard/polls/health-priorities/weighted").text
        assert 'id="weighted"' in page and 'value="language" checked' in page and 'value="age_band" checked' in page
        assert "age_band 55_64: 4 respondents, fewer than 5" in page  # said plainly, not weighted
        chosen = client.post(
            "/dashboard/polls/health-priorities/weighting",
            data={"csrf_token": csrf, "dimension": ["language", "nonsense"]},
            follow_redirects=False,
        )
        assert chosen.status_code == 303 and "Weighted%20by%20language" in chosen.headers["location"]
        page = client.get(chosen.headers["location"]).text
        assert "Weighted by language." in page
        assert 'value="language" checked' in page and 'value="age_band" checked' not in page
        viewer = TestClient(create_app(runtime, deliver=False))
    with runtime.db.transaction() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "poll.weighting")).all()
        assert event.details == {"dimensions": ["language"]}
    with viewer:
        csrf = sign_in(viewer, make_user(runtime, "viewer", email="viewer@example.org"))
        refused = viewer.post("/dashboard/polls/health-priorities/weighting", data={"csrf_token": csrf})
        assert refused.status_code == 403


def test_the_api_gives_the_weighted_results_without_a_weight_per_person(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    from starlette.testclient import TestClient

    from bot.web.app import create_app
    from tests.support.staff import api_token, make_user

    open_demo_poll(runtime)
    for n, locale in enumerate(["en"] * 8 + ["es"] * 5):
        _answer(_join(chat, n, locale), locale, "1" if locale == "en" else "3")
    with runtime.db.transaction() as session:
        representation.load_baseline(session, BASELINE, "en", "cli:test", runtime.clock.now())
    with TestClient(create_app(runtime, deliver=False)) as client:
        token = api_token(runtime, make_user(runtime, "viewer"))
        found = client.get("/api/v1/polls/health-priorities/weighted", headers={"Authorization": f"Bearer {token}"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert "weights" not in body and body["dimensions"] == ["language"]  # four aged 55-64: too few to weight by age
    assert any(note.startswith("age_band 55_64: 4 respondents") for note in body["notes"])
    language = {m["group"]: m["weighted_share"] for m in body["margins"] if m["dimension"] == "language"}
    assert language["en"] == pytest.approx(0.45 / 0.8, abs=0.005) and language["vi"] == 0
    top = next(q for q in body["questions"] if q["question"] == "top_need")
    clinics = next(o for o in top["options"] if o["value"] == "clinics")
    assert clinics["percent"] == pytest.approx(100 * 8 / 13, abs=0.1) and clinics["weighted"] == pytest.approx(
        56.2, abs=0.5
    )


def test_the_cli_prints_weighted_results(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    import json

    from click.testing import CliRunner

    from bot.cli import main

    open_demo_poll(runtime)
    for n, locale in enumerate(["en"] * 8 + ["es"] * 5):
        _answer(_join(chat, n, locale), locale, "1" if locale == "en" else "3")
    with runtime.db.transaction() as session:
        representation.load_baseline(session, BASELINE, "en", "cli:test", runtime.clock.now())
    env = {"LOOPLINE_DATABASE_URL": runtime.settings.database_url}
    table = CliRunner().invoke(main, ["results", "health-priorities", "--weighted"], env=env)
    assert table.exit_code == 0, table.output
    assert table.output.startswith("weighted by language: 13 respondents, effective sample size")
    assert re.search(r"Clinics close to home: 61\.5% raw, 56\.[23]% weighted", table.output)  # 8 of 13; 45 of 80
    as_json = json.loads(
        CliRunner().invoke(main, ["results", "health-priorities", "--weighted", "--format", "json"], env=env).output
    )
    assert "weights" not in as_json and as_json["dimensions"] == ["language"]
    as_csv = CliRunner().invoke(main, ["results", "health-priorities", "--weighted", "--format", "csv"], env=env).output
    assert as_csv.splitlines()[0].lstrip("\ufeff") == "question,value,label,percent,weighted_percent"
