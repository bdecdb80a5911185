"""Poll tallies that count identical answers together equal a count of one answer at a time; decisions' too.

Every question kind, skipped answers, residents without an area or who moved between answers; a decision's
contributions and recipients from their few queries equal the same worked out from first principles.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, select

from bot.conversation.flows.loader import read_document
from bot.conversation.flows.schema import Flow
from bot.engagement.decisions import notices
from bot.engagement.decisions import publishing as decisions
from bot.engagement.polls import definition as poll_store
from bot.engagement.polls import report as poll_report
from bot.engagement.polls.public_results import public_results, results_line, tally_poll
from bot.engagement.polls.tally import results_and_sizes
from bot.runtime import Runtime
from bot.store.engagement import Answer, Decision, DecisionLink, InputItem, Poll
from bot.store.models import Address, Resident

ALL_KINDS = Path(__file__).resolve().parent / "polls" / "all_kinds.yaml"
NOW = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
EMPTY: tuple[object, ...] = (None, [], "")
AREAS = ("94110", "94103", None)


def _value(rng: random.Random, question: str) -> Any:
    """A stored answer: mostly real ones (repeated, as residents repeat each other), sometimes skipped."""
    if rng.random() < 0.1:
        return rng.choice(EMPTY)
    return {
        "fruit": lambda: rng.choice(["apple", "mango", "pear"]),
        "days": lambda: rng.sample(["mon", "wed", "sat"], rng.randint(1, 3)),
        "order": lambda: rng.sample(["parks", "buses", "clinics"], rng.randint(1, 3)),
        "stars": lambda: rng.randint(1, 5),
        "again": lambda: rng.random() < 0.6,
        "words": lambda: rng.choice(["More benches", "Longer hours", f"Idea {rng.randint(1, 9)}"]),
    }[question]()


def _city(runtime: Runtime, residents: int = 240, seed: int = 5) -> tuple[Poll, Flow]:
    """An open poll of every kind answered (or partly, or skipped) by residents in three languages and areas."""
    rng = random.Random(seed)
    with runtime.db.transaction() as session:
        poll, _version = poll_store.load_poll(session, read_document(ALL_KINDS), runtime.flows, runtime.clock)
        poll_store.set_status(session, poll.slug, "open", NOW)
        people, places, answers = [], [], []
        for rid in range(1, residents + 1):
            locale, area = rng.choice(["en", "es", "ar"]), rng.choice(AREAS)
            consent = "granted" if rid % 9 else "revoked"
            people.append({"id": rid, "locale": locale, "consent": consent, "area": area, "fields": {}})
            for n, reachable in enumerate([rid % 7 != 0, True][: 1 + rid % 2]):  # some have two, the first unreachable
                places.append({"resident_id": rid, "channel": ("sms", "telegram")[n], "value": f"{rid}-{n}"})
                places[-1].update(reachable=reachable, created_at=NOW)
            for question in rng.sample(["fruit", "days", "order", "stars", "again", "words"], rng.randint(1, 6)):
                channel = rng.choice(["sms", "telegram"])
                stored = {"value": _value(rng, question), "kind": "x"}
                answers.append({"poll_id": poll.id, "resident_id": rid, "question": question, "value": stored})
                where = rng.choice(AREAS) if rid % 5 == 0 else area  # some moved between answers
                answers[-1].update(channel=channel, locale=locale, area=where, created_at=NOW, updated_at=NOW)
        rng.shuffle(answers)  # the order answers arrive in is not the residents' order
        for row in people:
            row.update(timezone=None, display_name=None, created_at=NOW, updated_at=NOW)
        for model, rows in ((Resident, people), (Address, places), (Answer, answers)):
            session.execute(insert(cast(Table, model.__table__)), rows)
        flow = poll_report.latest_flow(session, runtime.flows, poll.slug)
        assert flow is not None
        return poll, flow


def _one_by_one(runtime: Runtime, poll: Poll) -> list[Answer]:
    with runtime.db.transaction() as session:
        return list(session.scalars(select(Answer).where(Answer.poll_id == poll.id).order_by(Answer.id)))


def test_results_and_group_sizes_equal_a_count_of_one_answer_at_a_time(runtime: Runtime) -> None:
    poll, flow = _city(runtime)
    with runtime.db.transaction() as session:
        results, sizes = results_and_sizes(session, poll, flow)
    given = [a for a in _one_by_one(runtime, poll) if a.value["value"] not in EMPTY]
    expected_sizes: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for answer in given:
        for dimension in ("locale", "area", "channel"):
            expected_sizes[answer.question][dimension][str(getattr(answer, dimension) or "unknown")] += 1
    assert sizes == {q: {d: dict(c) for d, c in by.items()} for q, by in expected_sizes.items()}
    by_question = {result.question: result for result in results}
    assert list(by_question) == ["fruit", "days", "order", "stars", "again", "words"]
    for question, result in by_question.items():
        mine = [a for a in given if a.question == question]
        assert result.respondents == len(mine)
        if question == "words":
            assert result.texts == [a.value["value"] for a in mine]  # oldest first, every one
            continue
        assert {o.value: o.count for o in result.options if o.count} == _chosen(question, mine)
        for dimension in ("locale", "area", "channel"):
            groups: dict[str, list[Answer]] = defaultdict(list)
            for answer in mine:
                groups[str(getattr(answer, dimension) or "unknown")].append(answer)
            assert list(result.by[dimension]) == sorted(groups)
            for group, options in result.by[dimension].items():
                assert {o.value: o.count for o in options if o.count} == _chosen(question, groups[group])
        if question == "order":
            points: Counter[str] = Counter()
            for answer in mine:
                for place, item in enumerate(answer.value["value"]):
                    points[item] += 3 - place
            assert {o.value: o.points for o in result.options if o.points} == dict(points)
            ranked = [o.points for o in result.options]
            assert ranked == sorted(ranked, reverse=True)  # a ranking reads by its points, most first
        if question == "stars":
            assert result.average == round(sum(a.value["value"] for a in mine) / len(mine), 2)


def _chosen(question: str, answers: list[Answer]) -> dict[str, int]:
    """How many chose each option, one answer at a time (rankings: first place; several days: each)."""
    counts: Counter[str] = Counter()
    for answer in answers:
        value = answer.value["value"]
        if question == "again":
            counts["yes" if value else "no"] += 1
        elif question == "order":
            counts[value[0]] += 1
        elif question == "days":
            counts.update(value)
        else:
            counts[str(value)] += 1
    return dict(counts)


def test_the_public_tally_equals_a_count_of_one_answer_at_a_time(runtime: Runtime) -> None:
    poll, flow = _city(runtime)
    with runtime.db.transaction() as session:
        tallied = tally_poll(session, poll, flow)
    area_of: dict[int, str | None] = {}
    overall: dict[str, Counter[str]] = defaultdict(Counter)
    by_area: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for answer in _one_by_one(runtime, poll):
        value = answer.value["value"]
        if value in EMPTY:
            continue
        if area_of.get(answer.resident_id) is None:
            area_of[answer.resident_id] = answer.area
        if answer.question == "words":
            continue
        for key in _chosen(answer.question, [answer]):
            overall[answer.question][key] += 1
            if answer.area:
                by_area[answer.area][answer.question][key] += 1
    assert tallied.area_of == area_of
    assert {q: dict(t.counts) for q, t in tallied.overall.items() if t.respondents} == {
        q: dict(c) for q, c in overall.items()
    }
    assert {a: {q: dict(t.counts) for q, t in by.items()} for a, by in tallied.by_area.items()} == {
        a: {q: dict(c) for q, c in by.items()} for a, by in by_area.items()
    }
    assert public_results(tallied, "es")  # enough respondents to show
    assert results_line(tallied, next(iter(area_of)), "en")


def test_contributions_and_recipients_of_decisions_read_together(runtime: Runtime) -> None:
    poll, _flow = _city(runtime)
    with runtime.db.transaction() as session:
        rows = [
            Decision(
                slug=slug, title={"en": slug}, summary={"en": slug}, created_by="t", created_at=NOW, updated_at=NOW
            )
            for slug in ("with-poll", "items-only", "nothing")
        ]
        session.add_all(rows)
        session.flush()
        items = [
            InputItem(ref=ref, kind="feedback", resident_id=rid, text="t", channel="sms", locale="en", created_at=NOW)
            for ref, rid in ((4001, 3), (4002, 9), (4003, 14), (4004, None))
        ]
        for item in items:
            item.updated_at = NOW
        session.add_all(items)
        session.flush()
        session.add(DecisionLink(decision_id=rows[0].id, poll_id=poll.id, input_item_id=None))
        for item in items:
            for decision in rows[:2]:
                session.add(DecisionLink(decision_id=decision.id, input_item_id=item.id, poll_id=None))
        session.flush()
        respondents = len(set(session.scalars(select(Answer.resident_id).where(Answer.poll_id == poll.id))))
        assert decisions.contributions_of(session, rows) == {rows[0].id: 4 + respondents, rows[1].id: 4, rows[2].id: 0}
        assert decisions.contributions(session, rows[1]) == 4
        found = notices.recipients(session, rows[0], "en")
        behind = {3, 9, 14} | set(session.scalars(select(Answer.resident_id).where(Answer.poll_id == poll.id)))
        expected = []
        for rid in sorted(behind):
            resident = session.get(Resident, rid)
            places = session.scalars(
                select(Address).where(Address.resident_id == rid, Address.reachable.is_(True)).order_by(Address.id)
            ).first()
            if resident is not None and resident.consent == "granted" and places is not None:
                expected.append((rid, places.channel, places.value, resident.locale))
        assert [(r.resident.id, r.channel, r.address.value, r.locale) for r in found] == expected
        assert any(r.channel == "telegram" for r in found)  # someone whose first address cannot be reached
        assert 9 not in {r.resident.id for r in found}  # revoked
