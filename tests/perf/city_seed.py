"""A city-scale program for the dashboard benchmark, written with Core bulk inserts (not through the pipeline).

Everything is derived from one number, the residents (100,000 by default), and one seed, so two runs hold the
same data. The proportions follow the benchmark's brief: per 100,000 residents, 30,000 input items, 20,000 poll
respondents, 200,000 messages today and 50,000 outbox rows; 20 events and 5 published decisions always.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import Connection, Table, insert, text

LOCALES = ("en", "es", "zh_Hans", "vi", "ar", "fr")
LOCALE_WEIGHTS = (40, 25, 10, 10, 8, 7)
AREAS = (*(f"941{n:02d}" for n in range(1, 47)), "Eastside", "Westside", "Downtown", "Harbor")
TOPICS = ("clinics", "housing", "transport", "food", "safety", "air", "water", "mental-health", "schools", "parks")
TAGS = ("follow-up", "urgent", "housing", "spanish-speaker", "duplicate", "elderly", "youth", "noise", "rats", "heat")
POLL_SLUG = "health-priorities"
POLL_DOCUMENT = Path(__file__).resolve().parents[2] / "bot" / "engagement" / "demo" / f"{POLL_SLUG}.yaml"
NEEDS = ("clinics", "mental_health", "healthy_food", "clean_air", "safe_streets")
PASSWORD = "benchmark password 1"  # a throwaway account in a throwaway database
ROLES = {"admin": 2, "staff": 3, "partner": 2, "viewer": 2}
PARTNER_ORG = "Eastside Promotoras"
CHUNK = 5_000

SAYINGS = {  # what residents write, a few sentences per language (made unique when used)
    "en": (
        "The clinic on Mission St closes at 4pm, too early for people who work. Could it open on Saturdays?",
        "There is mold in our building again and the landlord does not answer. Who can we call?",
    ),
    "es": (
        "La clínica cierra muy temprano y no puedo ir después del trabajo. ¿Pueden abrir los sábados?",
        "Hay moho en nuestro edificio otra vez y el dueño no contesta. ¿A quién llamamos?",
    ),
    "zh_Hans": (
        "诊所下午四点就关门了，上班的人来不及去。周六可以开门吗？",
        "我们楼里又有霉菌了，房东不回复。我们该找谁？",
    ),
    "vi": (
        "Phòng khám đóng cửa lúc 4 giờ chiều, quá sớm cho người đi làm. Có thể mở cửa thứ Bảy không?",
        "Xe buýt đến bệnh viện mỗi giờ chỉ có một chuyến.",
    ),
    "ar": (
        "تغلق العيادة في الرابعة مساءً، وهذا مبكر جدًا للعاملين. هل يمكن فتحها يوم السبت؟",
        "الحافلة إلى المستشفى تأتي مرة واحدة كل ساعة.",
    ),
    "fr": (
        "La clinique ferme à 16 h, trop tôt pour ceux qui travaillent. Pourrait-elle ouvrir le samedi ?",
        "Le bus pour l'hôpital ne passe qu'une fois par heure.",
    ),
}


@dataclass(frozen=True)
class Scale:
    """How much of everything: the brief's proportions (given per 100,000 residents) for a number of residents."""

    residents: int
    items: int
    respondents: int
    messages: int
    outbox: int
    links_per_decision: int
    rsvps_per_event: int
    events: int = 20
    decisions: int = 5

    @classmethod
    def of(cls, residents: int) -> Scale:
        def part(per_100k: int, least: int = 1) -> int:
            return max(least, residents * per_100k // 100_000)

        items = part(30_000, 60)
        return cls(residents, items, part(20_000, 40), part(200_000), part(50_000), min(200, items // 10), part(1_000))


@dataclass
class Seeded:
    """What the benchmark needs to know about the seeded program."""

    counts: dict[str, int]
    seconds: float
    staff_email: str
    password: str
    api_token: str
    poll_slug: str
    decision_slug: str
    item_ref: int
    filtered_query: str


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _chunks(rows: Sequence[dict[str, Any]], size: int = CHUNK) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _bulk(conn: Connection, model: Any, rows: Sequence[dict[str, Any]]) -> int:
    table = _table(model)
    for part in _chunks(rows):
        conn.execute(insert(table), list(part))
    return len(rows)


def _when(rng: random.Random, now: datetime, days: float) -> datetime:
    return now - timedelta(seconds=rng.uniform(0, days * 86_400))


class CitySeeder:
    """Writes one city's program into an empty, migrated database."""

    def __init__(self, conn: Connection, scale: Scale, now: datetime, timezone: str, seed: int) -> None:
        self.conn, self.scale, self.now, self.rng = conn, scale, now, random.Random(seed)
        local = now.astimezone(ZoneInfo(timezone))
        self.midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        self.counts: dict[str, int] = {}
        self.residents: list[dict[str, Any]] = []
        self.addresses: dict[int, list[dict[str, Any]]] = {}

    # ------------------------------------------------------------------ people

    def people(self) -> None:
        from bot.store.models import Address, Resident

        rng, addresses = self.rng, []
        address_id = 0
        for rid in range(1, self.scale.residents + 1):
            locale = rng.choices(LOCALES, LOCALE_WEIGHTS)[0]
            consent = rng.choices(("granted", "pending", "revoked"), (90, 5, 5))[0]
            created = _when(rng, self.now, 365)
            self.residents.append(
                {
                    "id": rid,
                    "locale": locale,
                    "timezone": None,
                    "consent": consent,
                    "area": rng.choice(AREAS) if rng.random() < 0.95 else None,
                    "fields": {},
                    "display_name": None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            channels = ["sms" if rng.random() < 0.6 else "telegram"]
            if rng.random() < 0.1:
                channels.append("telegram" if channels[0] == "sms" else "sms")
            for channel in channels:
                address_id += 1
                value = f"+1415{rid:07d}" if channel == "sms" else str(700_000_000 + rid)
                row = {
                    "id": address_id,
                    "resident_id": rid,
                    "channel": channel,
                    "value": value,
                    "reachable": rng.random() < 0.97,
                    "created_at": created,
                }
                addresses.append(row)
                self.addresses.setdefault(rid, []).append(row)
        self.counts["residents"] = _bulk(self.conn, Resident, self.residents)
        self.counts["addresses"] = _bulk(self.conn, Address, addresses)

    def who_is_heard(self) -> None:
        """A population baseline by language and channel, and what a third of residents said about themselves (an
        age band, under its own consent), so the representation report has every kind of dimension to count."""
        from bot.store.about_me import AboutMeAnswer, AboutMeConsent
        from bot.store.places import BaselineCount

        population = {"en": 41_000, "es": 30_000, "zh_Hans": 12_000, "vi": 8_000, "ar": 4_000, "fr": 5_000}
        rows = [("language", group, n) for group, n in population.items()]
        rows += [("channel", "sms", 70_000), ("channel", "telegram", 30_000)]
        bands = ("18_24", "25_34", "35_44", "45_54", "55_64", "65_plus")
        rows += [("age_band", band, n) for band, n in zip(bands, (14, 22, 18, 16, 14, 16), strict=True)]
        baseline = [
            {"dimension": d, "group_name": g, "area": None, "population": n, "source": "bench", "loaded_at": self.now}
            for d, g, n in rows
        ]
        self.counts["baseline rows"] = _bulk(self.conn, BaselineCount, baseline)
        told = [r["id"] for r in self.residents if r["consent"] == "granted" and self.rng.random() < 0.33]
        consents = [{"resident_id": rid, "state": "granted", "channel": "sms", "at": self.now} for rid in told]
        answers = [
            {
                "resident_id": rid,
                "question": "age_band",
                "value": {"value": self.rng.choice(bands)},
                "updated_at": self.now,
            }
            for rid in told
        ]
        _bulk(self.conn, AboutMeConsent, consents)
        self.counts["about me answers"] = _bulk(self.conn, AboutMeAnswer, answers)

    def staff(self) -> tuple[str, str]:
        """Users of every role (one real argon2 hash, shared), the partner's shares; the staff user and a token."""
        from sqlalchemy import select
        from sqlalchemy.orm import Session

        from bot.staff import accounts
        from bot.store.staff import Share, User

        with Session(self.conn) as session:
            first = accounts.create_user(session, "admin1@city.example", PASSWORD, "admin", self.now)
            org_id = accounts.organization_id(session, PARTNER_ORG, self.now)
            password_hash = first.password_hash
            session.flush()
            rows = []
            for role, count in ROLES.items():
                for n in range(1, count + 1):
                    if role == "admin" and n == 1:
                        continue
                    rows.append(
                        {
                            "email": f"{role}{n}@city.example",
                            "password_hash": password_hash,
                            "role": role,
                            "organization_id": org_id if role == "partner" else None,
                            "active": True,
                            "created_at": self.now,
                            "last_login_at": None,
                        }
                    )
            session.execute(insert(_table(User)), rows)
            shares = [("poll", POLL_SLUG), ("topic", "housing"), ("topic", "clinics")]
            session.execute(
                insert(_table(Share)),
                [{"organization_id": org_id, "kind": k, "subject": s, "created_at": self.now} for k, s in shares],
            )
            staff_user = session.scalars(select(User).where(User.email == "staff1@city.example")).one()
            token = accounts.create_token(session, staff_user, "benchmark", self.now)
            session.flush()
            assignable = select(User.id).where(User.role.in_(("admin", "staff"))).order_by(User.id)
            self.user_ids = list(session.scalars(assignable))
        self.counts["users"] = sum(ROLES.values())
        return "staff1@city.example", token

    # ------------------------------------------------------------------ engagement

    def poll(self) -> int:
        from sqlalchemy.orm import Session

        from bot.clock import Clock
        from bot.engagement.polls import definition as polls
        from bot.store.flow_registry import FlowRegistry

        document = yaml.safe_load(POLL_DOCUMENT.read_text(encoding="utf-8"))
        opened = self.now - timedelta(days=21)
        with Session(self.conn) as session:
            poll, _version = polls.load_poll(session, document, FlowRegistry(), Clock(now=lambda: opened))
            polls.set_status(session, POLL_SLUG, "open", opened)
            poll.area_results = True
            session.flush()
            return poll.id

    def answers_and_items(self, poll_id: int) -> tuple[list[int], list[dict[str, Any]]]:
        """Three questions answered by the respondents; open answers are input items too, with the feedback."""
        from bot.store.engagement import Answer, InputItem, InputStatusChange

        rng, scale = self.rng, self.scale
        granted = [r for r in self.residents if r["consent"] == "granted"]
        respondents = rng.sample(granted, min(scale.respondents, len(granted)))
        answers: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        refs = iter(rng.sample(range(1_000, 10_000_000), scale.items))
        for resident in respondents:
            channel = self.addresses[resident["id"]][0]["channel"]
            at = _when(rng, self.now, 21)
            ranking = rng.sample(NEEDS, 3)
            values: list[tuple[str, Any, str]] = [
                ("top_need", rng.choices(NEEDS, (30, 25, 20, 15, 10))[0], "ask-choice"),
                ("ranking", ranking, "ask-ranking"),
            ]
            idea = rng.random()
            if idea < 0.3 and len(items) < scale.items:
                said = self._saying(resident)
                values.append(("idea", said, "ask-text"))
                items.append(self._item(next(refs), "poll", resident, channel, said, "idea", at, poll_id))
            elif idea < 0.9:
                values.append(("idea", None, "ask-text"))  # skipped
            for question, value, kind in values:
                answers.append(
                    {
                        "poll_id": poll_id,
                        "resident_id": resident["id"],
                        "question": question,
                        "value": {"value": value, "kind": kind},
                        "channel": channel,
                        "locale": resident["locale"],
                        "area": resident["area"],
                        "created_at": at,
                        "updated_at": at,
                    }
                )
        while len(items) < scale.items:
            resident = rng.choice(self.residents)
            channel = self.addresses[resident["id"]][0]["channel"]
            event = rng.random() < 0.12
            topic = f"event:event-{rng.randrange(1, 11):02d}" if event else rng.choice((*TOPICS, None))
            said = self._saying(resident)
            at = _when(rng, self.now, 90)
            items.append(self._item(next(refs), "event" if event else "feedback", resident, channel, said, topic, at))
        for number, item in enumerate(items, 1):
            item["id"] = number
        history = []
        for item in items:
            path = {"under_review": 1, "acted_on": 2, "not_adopted": 2}.get(item["status"], 0)
            steps = [("received", "under_review"), ("under_review", item["status"])][:path]
            for step, (before, after) in enumerate(steps):
                at = item["created_at"] + timedelta(hours=6 * (step + 1))
                history.append(
                    {
                        "item_id": item["id"],
                        "from_status": before,
                        "to_status": after,
                        "reason": "Checked with the clinic team.",
                        "actor": "user:staff1@city.example",
                        "at": at,
                    }
                )
        self.counts["answers"] = _bulk(self.conn, Answer, answers)
        self.counts["input_items"] = _bulk(self.conn, InputItem, items)
        self.counts["status_changes"] = _bulk(self.conn, InputStatusChange, history)
        self.counts["respondents"] = len(respondents)
        return [r["id"] for r in respondents], items

    def _item(
        self,
        ref: int,
        kind: str,
        resident: dict[str, Any],
        channel: str,
        said: str,
        topic: str | None,
        at: datetime,
        poll_id: int | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        return {
            "ref": ref,
            "kind": kind,
            "resident_id": resident["id"],
            "poll_id": poll_id,
            "text": said,
            "topic": topic,
            "may_contact": kind != "poll" and rng.random() < 0.4,
            "rating": rng.randrange(1, 6) if kind == "event" else None,
            "status": rng.choices(("received", "under_review", "acted_on", "not_adopted"), (50, 25, 15, 10))[0],
            "channel": channel,
            "locale": resident["locale"],
            "area": resident["area"],
            "tags": rng.sample(TAGS, rng.choices((0, 1, 2, 3), (50, 30, 15, 5))[0]),
            "assigned_to_id": rng.choice(self.user_ids) if rng.random() < 0.2 else None,
            "publishable": rng.random() < 0.1,
            "created_at": at,
            "updated_at": at,
        }

    def _saying(self, resident: dict[str, Any]) -> str:
        """What a resident wrote: one of a few sentences in their language, made unique as real texts are."""
        rng = self.rng
        return f"{rng.choice(SAYINGS[resident['locale']])} ({rng.choice(AREAS)} / {rng.randrange(1, 9999)})"

    def events(self) -> None:
        from bot.store.engagement import Event, Rsvp

        rng, events, rsvps = self.rng, [], []
        for n in range(1, self.scale.events + 1):
            starts = self.now + timedelta(days=(n - 10) * 3, hours=2)
            title = {loc: f"Health fair {n}" for loc in LOCALES}
            events.append(
                {
                    "id": n,
                    "slug": f"event-{n:02d}",
                    "title": title,
                    "place": {"*": f"Community center {n}, 1200 Main St"},
                    "description": {"*": "Free screenings, flu shots and advice."},
                    "starts_at": starts,
                    "ends_at": starts + timedelta(hours=3),
                    "timezone": "America/Los_Angeles",
                    "capacity": 300 if n % 3 else None,
                    "status": "published",
                    "created_at": self.now - timedelta(days=40),
                }
            )
            for resident in rng.sample(self.residents, min(self.scale.rsvps_per_event, len(self.residents))):
                response = rng.choices(("yes", "no", "maybe"), (60, 25, 15))[0]
                rsvps.append(
                    {
                        "event_id": n,
                        "resident_id": resident["id"],
                        "response": response,
                        "waitlisted": response == "yes" and rng.random() < 0.1,
                        "created_at": self.now - timedelta(days=5),
                        "updated_at": self.now - timedelta(days=5),
                    }
                )
        self.counts["events"] = _bulk(self.conn, Event, events)
        self.counts["rsvps"] = _bulk(self.conn, Rsvp, rsvps)

    def decisions(self, poll_id: int, items: list[dict[str, Any]]) -> str:
        from bot.store.engagement import Decision, DecisionLink

        rng, rows, links = self.rng, [], []
        chosen = rng.sample(items, self.scale.decisions * self.scale.links_per_decision)
        for n in range(1, self.scale.decisions + 1):
            published = self.now - timedelta(days=n * 4)
            rows.append(
                {
                    "id": n,
                    "slug": f"decision-{n}",
                    "title": {"en": f"Saturday clinic hours, phase {n}", "es": f"Clínica los sábados, fase {n}"},
                    "summary": {
                        "en": "From April the Mission clinic opens on Saturdays, 9am-1pm.",
                        "es": "Desde abril la clínica de Mission abre los sábados de 9 a 13 h.",
                    },
                    "changed": {"en": "Saturday hours; Spanish-speaking staff on every shift."},
                    "not_adopted": {"en": "Evening hours: no staff for them this year."},
                    "decided_by": "City Health Department",
                    "partners": [PARTNER_ORG],
                    "status": "published",
                    "created_by": "user:staff1@city.example",
                    "created_at": published - timedelta(days=3),
                    "updated_at": published,
                    "published_at": published,
                }
            )
            links.append({"decision_id": n, "input_item_id": None, "poll_id": poll_id, "outcome": "acted_on"})
            share = chosen[(n - 1) * self.scale.links_per_decision : n * self.scale.links_per_decision]
            for item in share:
                outcome = "acted_on" if rng.random() < 0.8 else "not_adopted"
                links.append({"decision_id": n, "input_item_id": item["id"], "poll_id": None, "outcome": outcome})
        self.counts["decisions"] = _bulk(self.conn, Decision, rows)
        self.counts["decision_links"] = _bulk(self.conn, DecisionLink, links)
        self.linked_item = chosen[0]
        return "decision-1"

    # ------------------------------------------------------------------ traffic

    def messages(self) -> None:
        from bot.store.models import Message

        rng, rows = self.rng, []
        span = max(60.0, (self.now - self.midnight).total_seconds() - 1)
        for n in range(1, self.scale.messages + 1):
            resident = self.residents[rng.randrange(len(self.residents))]
            address = self.addresses[resident["id"]][0]
            inbound = rng.random() < 0.45
            status = "received" if inbound else rng.choices(("sent", "delivered", "failed"), (30, 65, 5))[0]
            rows.append(
                {
                    "id": n,
                    "resident_id": resident["id"],
                    "direction": "in" if inbound else "out",
                    "channel": address["channel"],
                    "address": address["value"],
                    "text": "1" if inbound and rng.random() < 0.5 else "Thanks! Your answer is saved.",
                    "provider_id": f"bench{n:010d}",
                    "status": status,
                    "error_code": "30003" if status == "failed" else None,
                    "payload": {},
                    "created_at": self.now - timedelta(seconds=rng.uniform(0, span)),
                }
            )
            if len(rows) == 50_000:
                self.counts["messages"] = self.counts.get("messages", 0) + _bulk(self.conn, Message, rows)
                rows = []
        self.counts["messages"] = self.counts.get("messages", 0) + _bulk(self.conn, Message, rows)

    def outbox(self, item_ref: int, item_resident: int) -> None:
        from bot.store.models import OutboxItem

        rng, rows = self.rng, []
        errors = ("30003: Unreachable destination handset", "30007: Carrier violation", "Forbidden: bot was blocked")
        for n in range(1, self.scale.outbox + 1):
            resident = self.residents[rng.randrange(len(self.residents))]
            address = self.addresses[resident["id"]][0]
            status = rng.choices(("sent", "pending", "failed", "skipped"), (70, 10, 10, 10))[0]
            purpose = rng.choice(("broadcast:1", "broadcast:2", "decision:1", "event_reminder", "staff_reply"))
            key = f"{purpose}:{resident['id']}:{n}"
            if purpose == "staff_reply":
                key = f"staff-reply:{rng.randrange(1_000, 10_000_000)}:{n}"
            rows.append(self._outbox_row(key, purpose, resident, address, status, errors))
        resident = self.residents[item_resident - 1]
        for n in (1, 2):  # the measured item has two replies
            key = f"staff-reply:{item_ref}:{n}"
            rows.append(self._outbox_row(key, "staff_reply", resident, self.addresses[item_resident][0], "sent", ()))
        self.counts["outbox"] = _bulk(self.conn, OutboxItem, rows)

    def _outbox_row(
        self,
        key: str,
        purpose: str,
        resident: dict[str, Any],
        address: dict[str, Any],
        status: str,
        errors: Sequence[str],
    ) -> dict[str, Any]:
        rng = self.rng
        created = _when(rng, self.now, 2)
        done = status in ("sent", "failed", "skipped")
        return {
            "idempotency_key": key,
            "purpose": purpose,
            "resident_id": resident["id"],
            "channel": address["channel"],
            "address": address["value"],
            "text": "Free flu shots this Saturday, 10am-2pm, at the Eastside Library.",
            "choices": {},
            "status": status,
            "urgent": False,
            "attempts": 1 if done else 0,
            "not_before": created,
            "claimed_until": None,
            "last_error": rng.choice(errors) if status == "failed" else None,
            "message_id": None,
            "created_at": created,
            "finished_at": created + timedelta(seconds=30) if done else None,
        }


def seed_city(url: str, residents: int, timezone: str, seed: int = 1) -> Seeded:
    """Migrate an empty database and write the whole program into it; PostgreSQL is ANALYZEd afterwards (as
    autovacuum would soon do), SQLite is left as Loopline leaves it (no statistics)."""
    import time

    from bot.store.db import Database
    from bot.store.migrate import upgrade

    db = Database(url)
    try:
        upgrade(db.engine)
        started = time.perf_counter()
        now = datetime.now(UTC)
        with db.engine.begin() as conn:
            city = CitySeeder(conn, Scale.of(residents), now, timezone, seed)
            city.people()
            city.who_is_heard()
            email, token = city.staff()
            poll_id = city.poll()
            _respondents, items = city.answers_and_items(poll_id)
            city.events()
            decision = city.decisions(poll_id, items)
            item = city.linked_item
            city.messages()
            city.outbox(item["ref"], item["resident_id"])
        if not db.is_sqlite:
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        return Seeded(
            counts=city.counts,
            seconds=time.perf_counter() - started,
            staff_email=email,
            password=PASSWORD,
            api_token=token,
            poll_slug=POLL_SLUG,
            decision_slug=decision,
            item_ref=int(item["ref"]),
            filtered_query="status=received&language=es&tag=follow-up",
        )
    finally:
        db.dispose()
