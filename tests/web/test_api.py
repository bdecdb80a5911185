"""The JSON API at /api/v1 through the real app on a real database: tokens, roles, sharing, pagination, CSV,
triage with audit and history, and hostile parameters (never a 5xx)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.conversation.flows.loader import read_document
from bot.engagement.events import calendar as events
from bot.engagement.polls import definition as polls
from bot.runtime import Runtime
from bot.staff import sharing
from bot.store.engagement import (
    Answer,
    AuditEvent,
    Broadcast,
    Decision,
    DecisionLink,
    InputItem,
    InputStatusChange,
    Rsvp,
)
from bot.store.models import Address, Resident
from bot.store.staff import ApiToken, Organization, User
from bot.web.api.operations import MAX_BODY_BYTES
from tests.support.examples import examples
from tests.support.staff import api_token, make_user

DEMO = Path(__file__).resolve().parents[2] / "bot" / "engagement" / "demo"
NUMBERS = ("+14155550123", "+14155550188")
CHAT_ID = "730125561"
_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass
class World:
    """What the seed made: the runtime, the client and a token per role."""

    runtime: Runtime
    client: TestClient
    tokens: dict[str, str]

    def get(self, role: str, path: str, **headers: str) -> Any:
        return self.client.get(path, headers={"Authorization": f"Bearer {self.tokens[role]}", **headers})

    def patch(self, role: str, path: str, body: Any) -> Any:
        return self.client.patch(path, json=body, headers={"Authorization": f"Bearer {self.tokens[role]}"})


def _resident(session: Any, now: Any, locale: str, area: str | None, consent: str, channel: str, value: str) -> int:
    resident = Resident(
        locale=locale, consent=consent, area=area, fields={"caregiver": "yes"}, created_at=now, updated_at=now
    )
    session.add(resident)
    session.flush()
    session.add(Address(resident_id=resident.id, channel=channel, value=value, reachable=True, created_at=now))
    return resident.id


def _item(session: Any, now: Any, ref: int, resident: int, text: str, **extra: Any) -> InputItem:
    fields: dict[str, Any] = {"kind": "feedback", "channel": "sms", "locale": "es", "area": "Eastside"}
    fields.update(extra)
    item = InputItem(
        ref=ref,
        resident_id=resident,
        text=text,
        may_contact=True,
        status="received",
        tags=[],
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(item)
    session.flush()
    return item


def seed(runtime: Runtime) -> None:
    """Three residents, two polls (one shared with the partners), items, an event, broadcasts, decisions."""
    clock = runtime.clock
    with runtime.db.transaction() as session:
        now = clock.now()
        first = _resident(session, now, "es", "Eastside", "granted", "sms", NUMBERS[0])
        second = _resident(session, now, "ar", "Westside", "granted", "telegram", CHAT_ID)
        third = _resident(session, now, "en", None, "revoked", "sms", NUMBERS[1])
        document = read_document(DEMO / "health-priorities.yaml")
        shared_poll, _ = polls.load_poll(session, document, runtime.flows, clock)
        polls.set_status(session, shared_poll.slug, "open", now)
        other_poll, _ = polls.load_poll(session, {**document, "slug": "clinic-hours"}, runtime.flows, clock)
        for resident, choice, area in ((first, "clinics", "Eastside"), (second, "clean_air", "Westside")):
            session.add(
                Answer(
                    poll_id=shared_poll.id,
                    resident_id=resident,
                    question="top_need",
                    value={"value": choice, "kind": "ask-choice"},
                    channel="sms",
                    locale="es",
                    area=area,
                    created_at=now,
                    updated_at=now,
                )
            )
        acted = _item(session, now, 1001, first, "La clínica cierra muy temprano.", topic="clinic")
        _item(session, now, 1002, first, "Más horas por la tarde", kind="poll", poll_id=shared_poll.id, topic="open")
        _item(session, now, 1003, second, "نحتاج إلى عيادة مسائية", topic="housing", locale="ar", area="Westside")
        draft_item = _item(session, now - timedelta(days=3), 1004, third, "=HYPERLINK(1)", topic="parks", locale="en")
        _item(session, now, 1005, third, "Answer to the other poll", kind="poll", poll_id=other_poll.id)
        event = events.load_event(session, events.moved_to_offset(read_document(DEMO / "health-fair.yaml"), now), now)
        for resident, response in ((first, "yes"), (second, "maybe")):
            session.add(
                Rsvp(event_id=event.id, resident_id=resident, response=response, created_at=now, updated_at=now)
            )
        for name, audience in (("Flu clinic", "language=es"), ("Westside notice", "area=Westside")):
            session.add(
                Broadcast(name=name, texts={"es": name}, audience=audience, send_at=now, created_at=now, recipients=1)
            )
        for slug, status, item, outcome in (
            ("evening-clinic", "published", acted, "acted_on"),
            ("parks", "draft", draft_item, "not_adopted"),
        ):
            decision = Decision(
                slug=slug,
                title={"en": slug},
                summary={"en": "summary"},
                decided_by="Health department",
                partners=["Eastside Promotoras"],
                status=status,
                created_by="staff@health.example",
                created_at=now,
                updated_at=now,
                published_at=now if status == "published" else None,
            )
            session.add(decision)
            session.flush()
            session.add(DecisionLink(decision_id=decision.id, input_item_id=item.id, outcome=outcome))
            if status == "published":
                session.add(DecisionLink(decision_id=decision.id, poll_id=shared_poll.id, outcome="acted_on"))


@pytest.fixture
def world(client: TestClient, runtime: Runtime) -> Iterator[World]:
    seed(runtime)
    tokens = {role: api_token(runtime, make_user(runtime, role)) for role in ("admin", "staff", "partner", "viewer")}
    with runtime.db.transaction() as session:
        org = session.scalars(select(Organization)).one()
        now = runtime.clock.now()
        sharing.share(session, org.id, "poll", "health-priorities", now)
        sharing.share(session, org.id, "item", "1003", now)
        sharing.share(session, org.id, "audience", "language=es", now)
    yield World(runtime, client, tokens)


def api_routes(client: TestClient) -> Iterator[tuple[str, str]]:
    """(method, path with parameters filled) of every documented API route that needs a token."""
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and route.include_in_schema and route.path.startswith("/api/v1"):
            if route.path.endswith("openapi.json"):
                continue
            filled = _PARAM.sub(lambda m: "1001" if m.group(1) in ("id", "ref") else "health-priorities", route.path)
            for method in sorted((route.methods or set()) - {"HEAD"}):
                yield method, filled


def test_every_route_needs_a_live_token(world: World) -> None:
    client, runtime = world.client, world.runtime
    revoked = api_token(runtime, "staff@health.example", "to revoke")
    gone_email = make_user(runtime, "staff", "gone@health.example")
    gone = api_token(runtime, gone_email)
    with runtime.db.transaction() as session:
        session.scalars(select(ApiToken).where(ApiToken.name == "to revoke")).one().revoked_at = runtime.clock.now()
        session.scalars(select(User).where(User.email == gone_email)).one().active = False
    routes = list(api_routes(client))
    assert len(routes) >= 15
    for method, path in routes:
        for header in (
            {},
            {"Authorization": f"Bearer {revoked}"},
            {"Authorization": f"Bearer {gone}"},
            {"Authorization": "Bearer ll_not-a-token"},
            {"Authorization": "Basic YWRtaW46YWRtaW4="},
        ):
            response = client.request(method, path, headers=header)
            assert response.status_code == 401, (method, path, header, response.status_code)
            assert response.json()["error"] == "unauthorized"
            assert response.headers["cache-control"] == "no-store"
    assert world.get("staff", "/api/v1/me").status_code == 200  # the same user's other token still works


def test_me(world: World) -> None:
    me = world.get("partner", "/api/v1/me").json()
    assert me["email"] == "partner@health.example" and me["role"] == "partner"
    assert me["organization"]["name"] == "Eastside Promotoras"
    assert "triage" in me["permissions"] and "view_numbers" not in me["permissions"]
    assert world.get("viewer", "/api/v1/me").json()["organization"] is None


def test_residents_show_addresses_only_to_roles_that_may_see_numbers(world: World) -> None:
    for role in ("admin", "staff"):
        response = world.get(role, "/api/v1/residents")
        assert response.status_code == 200
        assert NUMBERS[0] in response.text and CHAT_ID in response.text
        first = response.json()["data"][0]
        assert first["addresses"][0]["value"] == NUMBERS[0] and first["channels"] == ["sms"]
    viewer = world.get("viewer", "/api/v1/residents")
    assert viewer.status_code == 200 and len(viewer.json()["data"]) == 3
    assert all("addresses" not in r and "display_name" not in r for r in viewer.json()["data"])
    assert not any(n in viewer.text for n in (*NUMBERS, CHAT_ID))
    one = world.get("viewer", f"/api/v1/residents/{viewer.json()['data'][1]['id']}")
    assert one.json()["channels"] == ["telegram"] and CHAT_ID not in one.text
    assert one.json()["label"].startswith("Resident #") and one.json()["fields"] == {"caregiver": "yes"}
    for path in ("/api/v1/residents", f"/api/v1/residents/{one.json()['id']}"):
        refused = world.get("partner", path)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert world.get("staff", "/api/v1/residents/999999").status_code == 404


def test_residents_pages_and_filters(world: World) -> None:
    seen, after, pages = [], None, 0
    while True:
        query = "limit=2" + (f"&after={after}" if after is not None else "")
        body = world.get("viewer", f"/api/v1/residents?{query}").json()
        seen += [r["id"] for r in body["data"]]
        pages += 1
        after = body["next"]
        if after is None:
            break
    assert pages == 2 and len(seen) == 3 and seen == sorted(seen)

    def ids(query: str) -> list[str | None]:
        return [r["locale"] for r in world.get("viewer", f"/api/v1/residents?{query}").json()["data"]]

    assert ids("language=es") == ["es"]
    assert ids("channel=telegram") == ["ar"]
    assert ids("consent=revoked") == ["en"]
    assert ids("area=eastside") == ["es"]
    assert ids("channel=sms&consent=granted") == ["es"]


def test_partners_see_only_shared_polls_and_results(world: World) -> None:
    staff = world.get("staff", "/api/v1/polls").json()["data"]
    assert [p["slug"] for p in staff] == ["health-priorities", "clinic-hours"]
    assert [p["slug"] for p in world.get("staff", "/api/v1/polls?status=draft").json()["data"]] == ["clinic-hours"]
    partner = world.get("partner", "/api/v1/polls").json()["data"]
    assert [p["slug"] for p in partner] == ["health-priorities"]
    assert world.get("partner", "/api/v1/polls/clinic-hours").status_code == 404
    assert world.get("partner", "/api/v1/polls/clinic-hours/results").status_code == 404
    assert world.get("partner", "/api/v1/polls/health-priorities/results").status_code == 200


def test_poll_questions_and_results_as_json_and_csv(world: World) -> None:
    poll = world.get("viewer", "/api/v1/polls/health-priorities").json()
    assert poll["status"] == "open" and poll["title"]["es"].startswith("Prioridades")
    assert [q["id"] for q in poll["questions"]][:2] == ["top_need", "ranking"]
    assert poll["questions"][0]["options"][0] == {
        "value": "clinics",
        "label": poll["questions"][0]["options"][0]["label"],
    }
    results = world.get("viewer", "/api/v1/polls/health-priorities/results").json()
    top = next(q for q in results["questions"] if q["question"] == "top_need")
    assert top["respondents"] == 2
    assert {o["value"]: o["count"] for o in top["options"]}["clinics"] == 1
    assert set(top["by"]["area"]) == {"Eastside", "Westside"}
    for response in (
        world.get("viewer", "/api/v1/polls/health-priorities/results?format=csv"),
        world.get("viewer", "/api/v1/polls/health-priorities/results", Accept="text/csv"),
    ):
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
        assert rows[0][:3] == ["question", "dimension", "group"]
        assert ["top_need", "all", "all", "clinics", "1", "50.0", "0"] in rows
    assert world.get("viewer", "/api/v1/polls/health-priorities/results?format=xml").status_code == 400


def test_events_with_rsvp_counts(world: World) -> None:
    listed = world.get("viewer", "/api/v1/events").json()["data"]
    assert [e["slug"] for e in listed] == ["health-fair"]
    event = world.get("partner", "/api/v1/events/health-fair").json()
    assert event["rsvps"] == {"yes": 1, "waitlisted": 0, "no": 0, "maybe": 1}
    assert event["capacity"] == 150 and event["starts_at"].endswith("Z")
    assert world.get("viewer", "/api/v1/events/nope").status_code == 404


def test_broadcasts_need_the_broadcast_permission(world: World) -> None:
    assert world.get("viewer", "/api/v1/broadcasts").status_code == 403
    staff = world.get("staff", "/api/v1/broadcasts").json()["data"]
    assert [b["name"] for b in staff] == ["Flu clinic", "Westside notice"]
    detail = world.get("staff", f"/api/v1/broadcasts/{staff[0]['id']}").json()
    assert detail["status"] == {"outbox": {}, "reasons": {}, "delivery": {}}
    partner = world.get("partner", "/api/v1/broadcasts").json()["data"]
    assert [b["name"] for b in partner] == ["Flu clinic"]
    assert world.get("partner", f"/api/v1/broadcasts/{staff[1]['id']}").status_code == 404


def _refs(world: World, role: str, query: str = "") -> list[int]:
    response = world.get(role, f"/api/v1/input-items{query}")
    assert response.status_code == 200, response.text
    return [item["ref"] for item in response.json()["data"]]


def test_input_items_filters_pages_and_sharing(world: World) -> None:
    assert _refs(world, "viewer") == [1001, 1002, 1003, 1004, 1005]
    assert _refs(world, "partner") == [1002, 1003]  # answers to the shared poll, and one item shared by ref
    assert _refs(world, "viewer", "?topic=clinic") == [1001]
    assert _refs(world, "viewer", "?language=ar") == [1003]
    assert _refs(world, "viewer", "?poll=health-priorities") == [1002]
    assert _refs(world, "viewer", "?kind=poll&status=received") == [1002, 1005]
    assert _refs(world, "viewer", "?area=WESTSIDE") == [1003]
    since = (world.runtime.clock.now() - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert 1004 not in _refs(world, "viewer", f"?{urlencode({'since': since})}")
    first = world.get("viewer", "/api/v1/input-items?limit=3").json()
    rest = world.get("viewer", f"/api/v1/input-items?limit=3&after={first['next']}").json()
    assert [i["ref"] for i in first["data"] + rest["data"]] == [1001, 1002, 1003, 1004, 1005] and rest["next"] is None
    item = world.get("partner", "/api/v1/input-items/1003").json()
    assert item["text"] == "نحتاج إلى عيادة مسائية" and item["history"] == [] and "address" not in str(item)
    assert world.get("partner", "/api/v1/input-items/1001").status_code == 404
    linked = world.get("viewer", "/api/v1/input-items/1001").json()["decisions"]
    assert linked == [{"slug": "evening-clinic", "outcome": "acted_on"}]
    assert world.get("viewer", "/api/v1/input-items/1004").json()["decisions"] == []  # its decision is a draft
    assert world.get("staff", "/api/v1/input-items/1004").json()["decisions"][0]["slug"] == "parks"


def test_input_items_csv_export(world: World) -> None:
    response = world.get("viewer", "/api/v1/input-items?format=csv&topic=parks")
    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [row["ref"] for row in rows] == ["1004"]
    assert rows[0]["text"] == "'=HYPERLINK(1)"  # a spreadsheet will not run it as a formula
    everything = world.get("staff", "/api/v1/input-items", Accept="text/csv")
    assert everything.text.count("\n") == 6 and not any(n in everything.text for n in (*NUMBERS, CHAT_ID))
    partner = world.get("partner", "/api/v1/input-items?format=csv").text
    assert "1003" in partner and "1001" not in partner


def test_triage_through_the_api_is_audited_with_history(world: World) -> None:
    moved = world.patch("staff", "/api/v1/input-items/1001", {"status": "under_review", "reason": "Checking hours"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["status"] == "under_review"
    assert moved.json()["history"][0] | {"at": None} == {
        "from": "received",
        "to": "under_review",
        "reason": "Checking hours",
        "actor": "user:staff@health.example",
        "at": None,
    }
    skipped = world.patch("staff", "/api/v1/input-items/1002", {"status": "acted_on", "reason": "done"})
    assert skipped.status_code == 409 and "under review" in skipped.json()["detail"]  # not from where it is
    tagged = world.patch("staff", "/api/v1/input-items/1001", {"tags": ["Evening Hours", "clinic"], "topic": "hours"})
    assert tagged.json()["tags"] == ["evening-hours", "clinic"] and tagged.json()["topic"] == "hours"
    retagged = world.patch("staff", "/api/v1/input-items/1001", {"tags": ["clinic"]})
    assert retagged.json()["tags"] == ["clinic"]
    with world.runtime.db.transaction() as session:
        actions = list(
            session.scalars(select(AuditEvent.action).where(AuditEvent.subject == "item:1001").order_by(AuditEvent.id))
        )
        changes = session.scalar(select(func.count()).select_from(InputStatusChange))
    assert actions == ["item.status", "item.tags", "item.topic", "item.tags"]
    assert changes == 1
    # Partners triage what is shared with them, and nothing else; viewers cannot triage.
    assert world.patch("partner", "/api/v1/input-items/1003", {"tags": ["followup"]}).status_code == 200
    assert world.patch("partner", "/api/v1/input-items/1004", {"tags": ["x"]}).status_code == 404
    refused = world.patch("viewer", "/api/v1/input-items/1003", {"tags": ["x"]})
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 400),
        ({"status": "acted_on"}, 400),
        ({"reason": "why"}, 400),
        ({"status": "closed", "reason": "x"}, 400),
        ({"tags": "clinic"}, 400),
        ({"tags": [1, 2]}, 400),
        ({"tags": [f"t{n}" for n in range(13)]}, 400),
        ({"tags": [" "]}, 400),
        ({"topic": 5}, 400),
        ({"topic": "x" * 65}, 400),
        ({"assigned_to": 1}, 400),
        ([], 400),
    ],
)
def test_bad_patch_bodies_are_refused_and_change_nothing(world: World, body: Any, status: int) -> None:
    response = world.patch("staff", "/api/v1/input-items/1001", body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == "bad_request"
    with world.runtime.db.transaction() as session:
        assert (
            session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.startswith("item.")))
            == 0
        )


def test_body_limits_and_media_type(world: World) -> None:
    headers = {"Authorization": f"Bearer {world.tokens['staff']}", "Content-Type": "application/json"}
    path = "/api/v1/input-items/1001"
    big = b'{"topic": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert world.client.patch(path, content=big, headers=headers).status_code == 413
    assert world.client.patch(path, content=b"{not json", headers=headers).status_code == 400
    assert world.client.patch(path, content=b'{"topic": "\xff"}', headers=headers).status_code == 400
    form = world.client.patch(path, data={"topic": "x"}, headers={"Authorization": headers["Authorization"]})
    assert form.status_code == 415 and form.json()["error"] == "unsupported_media_type"


def test_decisions_published_for_all_drafts_for_deciders(world: World) -> None:
    viewer = world.get("viewer", "/api/v1/decisions").json()["data"]
    assert [d["slug"] for d in viewer] == ["evening-clinic"] and "created_by" not in viewer[0]
    assert viewer[0]["items"] == [{"ref": 1001, "outcome": "acted_on"}]
    assert viewer[0]["polls"] == [{"slug": "health-priorities", "outcome": "acted_on"}]
    assert world.get("viewer", "/api/v1/decisions/parks").status_code == 404
    assert world.get("partner", "/api/v1/decisions/parks").status_code == 404
    staff = world.get("staff", "/api/v1/decisions").json()["data"]
    assert [d["slug"] for d in staff] == ["evening-clinic", "parks"]
    draft = world.get("staff", "/api/v1/decisions/parks").json()
    assert draft["status"] == "draft" and draft["items"] == [{"ref": 1004, "outcome": "not_adopted"}]
    assert [d["slug"] for d in world.get("staff", "/api/v1/decisions?status=draft").json()["data"]] == ["parks"]


def test_errors_are_json_and_nothing_is_cached(world: World) -> None:
    unknown = world.get("viewer", "/api/v1/nothing-here")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    assert world.client.get("/api/v1/nothing-here").status_code == 401  # no route is revealed without a token
    wrong = world.client.delete(
        "/api/v1/polls/health-priorities", headers={"Authorization": f"Bearer {world.tokens['staff']}"}
    )
    assert (
        wrong.status_code == 405 and wrong.headers["allow"] == "GET" and wrong.json()["error"] == "method_not_allowed"
    )
    for path in ("/api/v1/polls", "/api/v1/polls/nope", "/api/v1/polls?limit=0", "/api/v1/openapi.json"):
        response = world.get("viewer", path)
        assert response.headers["cache-control"] == "no-store", path
        assert response.headers["content-type"].startswith("application/json"), path
    assert world.get("viewer", "/api/v1/polls?limit=0").json() == {
        "error": "bad_request",
        "detail": "limit must be between 1 and 200",
    }


HOSTILE_PATHS = [
    "/api/v1/residents/abc",
    "/api/v1/residents/-1",
    "/api/v1/residents/0",
    "/api/v1/residents/99999999999999999999",
    "/api/v1/residents/1.5",
    "/api/v1/residents/%D9%A3",
    "/api/v1/polls/%00",
    "/api/v1/polls/a%20b",
    "/api/v1/polls/" + "x" * 65,
    "/api/v1/polls/%C3%BC/results",
    "/api/v1/broadcasts/2147483648",
    "/api/v1/input-items/%FF",
    "/api/v1/input-items/1001?format=csv",
    "/api/v1/decisions/%2E%2E",
    "/api/v1/residents?limit=1000000",
    "/api/v1/residents?limit=-5",
    "/api/v1/residents?after=1e9",
    "/api/v1/residents?limit=1&limit=2",
    "/api/v1/residents?language=klingon",
    "/api/v1/residents?area=%00",
    "/api/v1/input-items?since=yesterday",
    "/api/v1/input-items?since=9999-12-31T23:59:59",
    "/api/v1/input-items?since=2026-01-01T00:00:00%2B25:00",
    "/api/v1/input-items?poll=%27%3B%20DROP%20TABLE%20polls%3B--",
    "/api/v1/input-items?drop=1",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_hostile_paths_get_4xx(world: World, path: str) -> None:
    response = world.get("staff", path)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.text)
    assert response.json()["error"] in ("bad_request", "not_found")


HOSTILE = settings(
    max_examples=examples(40),
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NAMES = [
    "limit",
    "after",
    "language",
    "area",
    "channel",
    "consent",
    "status",
    "topic",
    "since",
    "poll",
    "format",
    "kind",
]
VALUES = st.one_of(
    st.text(max_size=80),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "0", "1", "200", "201", "NaN", "1e3", "\x00", "2026-02-30", "sms", "es", "csv", "%", "_"]),
)
QUERIES = st.lists(st.tuples(st.one_of(st.sampled_from(NAMES), st.text(max_size=12)), VALUES), max_size=4)


@pytest.mark.parametrize("path", ["/api/v1/residents", "/api/v1/input-items", "/api/v1/polls", "/api/v1/decisions"])
def test_generated_query_strings_never_give_5xx(world: World, path: str) -> None:
    @HOSTILE
    @given(pairs=QUERIES)
    def check(pairs: list[tuple[str, str]]) -> None:
        response = world.get("admin", f"{path}?{urlencode(pairs)}")
        assert response.status_code in (200, 400), (pairs, response.status_code, response.text[:200])

    check()
