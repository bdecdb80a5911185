"""Twilio status callbacks in process: signed with the real RequestValidator, out of order, never backwards."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from starlette.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.channels.twilio_statuses import RANK
from bot.delivery.statuses import apply_status
from bot.engagement.broadcasts.audiences import parse_audience
from bot.engagement.broadcasts.sending import BroadcastFile, enqueue
from bot.runtime import Runtime
from bot.store.models import Address, ConsentEvent, Message, OutboxItem, Resident
from bot.web.app import create_app
from bot.web.webhooks.twilio import STATUS_PATH
from tests.support.examples import examples

AUTH_TOKEN = "test-auth-token"  # tests/conftest.py's TWILIO_ENV
URL = f"http://testserver{STATUS_PATH}"  # no LOOPLINE_PUBLIC_URL: Twilio signed the URL we were called on
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
STATUSES = sorted(RANK)
NOTICE = BroadcastFile("Clinic news", {"en": "The clinic opens at 9 on Saturday."}, {}, True)

_serial = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_serial):032x}"


@dataclass
class Gateway:
    runtime: Runtime
    client: TestClient

    def callback(self, sid: str, status: str, error_code: str | None = None, *, signature: str | None = None) -> int:
        """POST the form Twilio sends for one status change; the HTTP status of the answer."""
        form = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "From": "+15005550006",
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": "+14155550100",
        }
        if error_code is not None:
            form["ErrorCode"] = error_code
        if signature is None:
            signature = str(RequestValidator(AUTH_TOKEN).compute_signature(URL, form))
        response = self.client.post(STATUS_PATH, data=form, headers={"X-Twilio-Signature": signature})
        assert response.content == b"" or response.status_code == 403, response.text
        return int(response.status_code)

    def outbound(self, phone: str = "+14155550100", status: str = "sent") -> tuple[int, str]:
        """A resident with an SMS address and one outbound message the worker sent: (resident id, sid)."""
        sid = new_sid()
        now = self.runtime.clock.now()
        with self.runtime.db.transaction() as session:
            address = session.scalars(select(Address).where(Address.channel == "sms", Address.value == phone)).first()
            if address is None:
                resident = Resident(consent="granted", fields={}, created_at=now, updated_at=now)
                session.add(resident)
                session.flush()
                session.add(
                    Address(resident_id=resident.id, channel="sms", value=phone, reachable=True, created_at=now)
                )
                resident_id = resident.id
            else:
                resident_id = address.resident_id
            session.add(
                Message(
                    resident_id=resident_id,
                    direction="out",
                    channel="sms",
                    address=phone,
                    text="Free flu shots Saturday.",
                    provider_id=sid,
                    status=status,
                    payload={},
                    created_at=now,
                )
            )
        return resident_id, sid

    def message(self, sid: str) -> tuple[str, str | None]:
        with self.runtime.db.transaction() as session:
            row = session.execute(select(Message.status, Message.error_code).where(Message.provider_id == sid)).one()
            return row.status, row.error_code

    def consent(self, resident_id: int) -> tuple[str, list[tuple[str, str]]]:
        with self.runtime.db.transaction() as session:
            resident = session.get(Resident, resident_id)
            assert resident is not None
            events = session.execute(
                select(ConsentEvent.state, ConsentEvent.source).where(ConsentEvent.resident_id == resident_id)
            ).all()
            return resident.consent, [(e.state, e.source) for e in events]

    def reachable(self, phone: str) -> bool:
        with self.runtime.db.transaction() as session:
            return bool(
                session.scalar(select(Address.reachable).where(Address.channel == "sms", Address.value == phone))
            )

    def messages(self) -> int:
        with self.runtime.db.transaction() as session:
            return int(session.scalar(select(func.count()).select_from(Message)) or 0)


@pytest.fixture
def gateway(runtime: Runtime) -> Iterator[Gateway]:
    # Not `with TestClient(...)`: the lifespan (Telegram polling, delivery) is deliberately not entered.
    client = TestClient(create_app(runtime, deliver=False), raise_server_exceptions=True)
    try:
        yield Gateway(runtime, client)
    finally:
        client.close()


def expected_final(initial: str, sequence: Sequence[str]) -> str:
    """The specification, stated without folding: the first terminal status wins (read may still follow
    delivered); without one, the highest-ranked status seen, the earliest among equals."""
    terminal = [i for i, status in enumerate(sequence) if RANK[status] >= 3]
    if terminal:
        first = sequence[terminal[0]]
        return "read" if first == "delivered" and "read" in sequence[terminal[0] :] else first
    return max([initial, *sequence], key=lambda status: RANK[status])


# ------------------------------------------------------------------------------------------------------------


def test_forged_signature_is_refused_and_changes_nothing(gateway: Gateway) -> None:
    _, sid = gateway.outbound()
    good = RequestValidator(AUTH_TOKEN).compute_signature(URL, {"MessageSid": sid, "MessageStatus": "delivered"})
    assert gateway.callback(sid, "delivered", signature="A" * 27 + "=") == 403
    assert gateway.callback(sid, "delivered", signature=good) == 403  # signed for other parameters
    assert gateway.client.post(STATUS_PATH, data={"MessageSid": sid, "MessageStatus": "failed"}).status_code == 403
    assert gateway.message(sid) == ("sent", None)


def test_statuses_only_move_forward(gateway: Gateway) -> None:
    _, late_sent = gateway.outbound()
    assert gateway.callback(late_sent, "delivered") == 204
    assert gateway.callback(late_sent, "sent") == 204
    assert gateway.message(late_sent) == ("delivered", None)

    _, late_queued = gateway.outbound(status="queued")
    assert gateway.callback(late_queued, "sent") == 204
    assert gateway.callback(late_queued, "queued") == 204
    assert gateway.callback(late_queued, "sending") == 204
    assert gateway.message(late_queued) == ("sent", None)

    _, failed = gateway.outbound()
    assert gateway.callback(failed, "failed", "30003") == 204
    assert gateway.callback(failed, "sent") == 204
    assert gateway.callback(failed, "delivered") == 204  # terminal: the first one stays
    assert gateway.message(failed) == ("failed", "30003")

    _, read = gateway.outbound()
    assert gateway.callback(read, "delivered") == 204
    assert gateway.callback(read, "read") == 204
    assert gateway.callback(read, "delivered") == 204
    assert gateway.message(read) == ("read", None)


def test_unknown_sid_or_status_is_answered_200_and_changes_nothing(gateway: Gateway) -> None:
    _, sid = gateway.outbound()
    before = gateway.messages()
    assert gateway.callback(new_sid(), "delivered", "21610") == 200
    assert gateway.callback(sid, "exploded", "21610") == 200
    assert gateway.callback(sid, "") == 200
    assert gateway.messages() == before
    assert gateway.message(sid) == ("sent", None)


def test_opted_out_error_revokes_consent(gateway: Gateway) -> None:
    resident_id, sid = gateway.outbound()
    assert gateway.callback(sid, "undelivered", "21610") == 204
    assert gateway.callback(sid, "failed", "21610") == 204  # a repeat adds no second event
    assert gateway.message(sid) == ("undelivered", "21610")
    assert gateway.consent(resident_id) == ("revoked", [("revoked", "provider")])
    assert gateway.reachable("+14155550100")


def test_opted_out_error_cancels_what_waits_for_the_resident(gateway: Gateway) -> None:
    """A carrier's "opted out" is a STOP: nothing queued for the resident leaves, as after a STOP to us."""
    resident_id, sid = gateway.outbound("+14155550188")
    now = gateway.runtime.clock.now()
    with gateway.runtime.db.transaction() as session:
        enqueue(session, NOTICE, parse_audience(""), "en", now, now)
    assert gateway.callback(sid, "undelivered", "21610") == 204
    with gateway.runtime.db.transaction() as session:
        rows = session.execute(
            select(OutboxItem.status, OutboxItem.last_error).where(OutboxItem.resident_id == resident_id)
        )
        assert [tuple(row) for row in rows] == [("cancelled", "resident opted out")]


def test_landline_error_marks_the_address_unreachable(gateway: Gateway) -> None:
    phone = "+14155550177"
    resident_id, sid = gateway.outbound(phone)
    assert gateway.callback(sid, "undelivered", "30006") == 204
    assert gateway.message(sid) == ("undelivered", "30006")
    assert not gateway.reachable(phone)
    assert gateway.consent(resident_id) == ("granted", [])


def test_concurrent_callbacks_never_regress(gateway: Gateway) -> None:
    db, now = gateway.runtime.db, gateway.runtime.clock.now()

    def apply(sid: str, status: str) -> bool:
        with db.transaction() as session:
            return apply_status(session, sid, status, None, now)

    rng = random.Random(7)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(10):
            _, sid = gateway.outbound(status="queued")
            order = ["sending", "sent", "delivered", "sent", "queued", "sending"]
            rng.shuffle(order)
            assert all(pool.map(apply, [sid] * len(order), order))
            assert gateway.message(sid)[0] == "delivered"


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.sampled_from(["queued", "sending", "sent"]),
    sequence=st.lists(st.sampled_from(STATUSES), min_size=1, max_size=8),
)
def test_final_status_is_the_highest_ranked(gateway: Gateway, initial: str, sequence: list[str]) -> None:
    _, sid = gateway.outbound(status=initial)
    for status in sequence:
        assert gateway.callback(sid, status) == 204
    assert gateway.message(sid)[0] == expected_final(initial, sequence)


def test_a_callback_that_beats_the_send_record_is_applied_when_the_send_is_recorded(gateway: Gateway) -> None:
    import asyncio

    from bot.delivery.worker import DeliveryWorker
    from bot.messages import Channel, Outbound, SendResult, SendStatus
    from bot.store.models import OutboxItem

    sid = new_sid()
    runtime = gateway.runtime
    assert gateway.callback(sid, "undelivered", "30003") == 200  # Twilio was faster than our bookkeeping
    assert gateway.callback(sid, "sent") == 200  # an earlier status arriving later does not win
    now = runtime.clock.now()
    _resident, _old = gateway.outbound("+14155550188")
    with runtime.db.transaction() as session:
        resident_id = session.scalars(select(Address.resident_id).where(Address.value == "+14155550188")).one()
        session.add(
            OutboxItem(
                idempotency_key="reply:early",
                purpose="reply",
                resident_id=resident_id,
                channel="sms",
                address="+14155550188",
                text="Hi",
                choices={},
                status="pending",
                urgent=True,
                attempts=0,
                not_before=now,
                created_at=now,
            )
        )

    class Provider:
        channel = Channel.SMS

        async def send(self, outbound: Outbound) -> SendResult:
            return SendResult(SendStatus.SENT, provider_id=sid)

    worker = DeliveryWorker(runtime.db, {Channel.SMS: Provider()}, runtime.clock)
    assert asyncio.run(worker.run_once()) == 1
    assert gateway.message(sid) == ("undelivered", "30003")
