"""Messages that arrive together are all handled, and one that cannot be stored now is asked for again.

Two messages from one resident at the same moment used to deadlock on PostgreSQL (the message row took a key-share
lock on the resident, then the resident was locked for update): the loser was kept with status "error" and Twilio
was answered 200, so nobody ever replied. Locks are now taken in one order, a deadlock or lost connection is
retried, and a message that still cannot be stored is answered 503 so that the provider sends it again.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, func, select, text
from starlette.testclient import TestClient

from bot.channels.twilio_sms import SMS_PATH
from bot.messages import Address, Channel, Inbound
from bot.pipeline.orchestrator import Handled
from bot.runtime import Runtime
from bot.store.db import normalise_url
from bot.store.models import Message
from bot.web.app import create_app
from tests.conftest import TWILIO_ENV
from tests.support.chat import Chat
from tests.support.databases import POSTGRES_URL
from tests.support.peers import sign_twilio

NUMBER = "+14155550177"
IDS = itertools.count(1)


def _joined(chat: Callable[..., Chat]) -> None:
    resident = chat(Channel.SMS, NUMBER)
    for text_ in ("hi", "1", "yes", "skip"):
        resident.send(text_)


def _inbound(body: str) -> Inbound:
    return Inbound(Address(Channel.SMS, NUMBER), body, f"SMpair{next(IDS)}", datetime.now(UTC))


def test_two_messages_from_one_resident_at_once_are_both_answered(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    _joined(chat)
    pairs = 25
    barrier = threading.Barrier(2)

    def send(body: str) -> Handled:
        inbound = _inbound(body)
        barrier.wait(timeout=10)
        return runtime.pipeline.handle(inbound, reply_inline=True)

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [h for _ in range(pairs) for h in pool.map(send, ["HELP", "MENU"])]
    assert not [h for h in results if h.failed or h.duplicate or not h.immediate], results
    with runtime.db.transaction() as session:
        statuses = dict(
            session.execute(
                select(Message.status, func.count()).where(Message.direction == "in").group_by(Message.status)
            ).all()
        )
    assert statuses == {"handled": 4 + 2 * pairs}, statuses


if POSTGRES_URL:  # the lock that makes a message wait is PostgreSQL's (SQLite has one writer and waits for it)

    @pytest.fixture
    def locked_messages(runtime: Runtime) -> Iterator[Callable[[], None]]:
        """Another session holding the messages table: inbound messages cannot be stored until release()."""
        engine = create_engine(normalise_url(runtime.settings.database_url))
        connection = engine.connect()
        transaction = connection.begin()
        connection.execute(text("LOCK TABLE messages IN ACCESS EXCLUSIVE MODE"))

        def release() -> None:
            if transaction.is_active:
                transaction.rollback()

        try:
            yield release
        finally:
            release()
            connection.close()
            engine.dispose()

    @pytest.mark.parametrize("backend", ["postgres"])
    def test_a_message_that_cannot_be_stored_now_is_answered_503_and_stored_once_when_sent_again(
        runtime: Runtime, chat: Callable[..., Chat], locked_messages: Callable[[], None]
    ) -> None:
        runtime.pipeline.lock_timeout_ms = 100  # production waits 3 s a try, four tries
        form = {"MessageSid": "SM" + "7" * 32, "AccountSid": TWILIO_ENV["LOOPLINE_TWILIO_ACCOUNT_SID"]}
        form |= {"From": NUMBER, "To": TWILIO_ENV["LOOPLINE_TWILIO_FROM"], "Body": "HELP"}
        url = "http://testserver" + SMS_PATH
        headers = {"X-Twilio-Signature": sign_twilio(TWILIO_ENV["LOOPLINE_TWILIO_AUTH_TOKEN"], url, form)}
        with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
            busy = client.post(SMS_PATH, data=form, headers=headers)
            assert busy.status_code == 503, busy.text
            assert busy.headers["retry-after"] == "1"
            locked_messages()
            again = client.post(SMS_PATH, data=form, headers=headers)
            assert again.status_code == 200 and "<Message>" in again.text, again.text
            duplicate = client.post(SMS_PATH, data=form, headers=headers)
            assert duplicate.status_code == 200 and "<Message>" not in duplicate.text, duplicate.text
        with runtime.db.transaction() as session:
            stored = session.scalar(select(func.count()).where(Message.provider_id == form["MessageSid"]))
        assert stored == 1
