"""Group commit: messages that arrive together share one transaction, yet each keeps its own outcome.

A failure in one message's turn undoes the group, and every message of it is handled again alone (the failing one
kept with status "error", the others answered once); duplicates in a group have one effect; one resident's
messages keep their order; and through the real web app many webhooks at once are committed in fewer
transactions than messages, each answered with its own reply.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import event, func, select

from bot.channels.twilio_sms import SMS_PATH
from bot.messages import Address, Channel, Inbound
from bot.pipeline.batching import MOST_LANES, GroupCommit, lanes_for
from bot.pipeline.orchestrator import Arrival, Handled
from bot.runtime import Runtime
from bot.store.models import ConversationSession, Message, OutboxItem
from bot.web.app import create_app
from tests.conftest import TWILIO_ENV
from tests.support.chat import Chat
from tests.support.peers import sign_twilio

IDS = itertools.count(1)


def _arrival(number: str, body: str, provider_id: str | None = None) -> Arrival:
    inbound = Inbound(Address(Channel.SMS, number), body, provider_id or f"SMgroup{next(IDS)}", datetime.now(UTC))
    return Arrival(inbound, reply_inline=True)


def _in_messages(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(Message.status, func.count()).where(Message.direction == "in").group_by(Message.status)
        ).all()
    return {str(status): int(count) for status, count in rows}


def test_one_failing_turn_in_a_group_is_kept_as_error_and_the_rest_answered_once(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    broken = chat(Channel.SMS, "+14155550190")
    broken.send("hi")
    with runtime.db.transaction() as session:  # its conversation points at a question that no longer exists
        session.scalars(select(ConversationSession)).one().node = "a_node_that_no_longer_exists"
    group = [
        _arrival("+14155550191", "hi", "SMfirst"),
        _arrival("+14155550190", "1", "SMbroken"),
        _arrival("+14155550192", "hi"),
        _arrival("+14155550191", "hi", "SMfirst"),  # the provider sent it twice
        _arrival("+14155550191", "1"),  # the same resident again: after their first message
    ]
    outcomes = runtime.pipeline.handle_batch(group)
    assert all(isinstance(o, Handled) for o in outcomes), outcomes
    first, failed, other, duplicate, second = (o for o in outcomes if isinstance(o, Handled))
    assert failed.failed and failed.message_id is not None
    assert duplicate.duplicate and not duplicate.immediate
    assert first.immediate and other.immediate and second.immediate
    assert "1 English" in first.immediate[0].text  # the language menu, then the consent question
    assert second.immediate[0].text != first.immediate[0].text
    assert _in_messages(runtime) == {"handled": 4, "error": 1}
    with runtime.db.transaction() as session:
        answered = session.scalar(select(func.count()).select_from(OutboxItem).where(OutboxItem.status == "sent"))
    assert answered == 1 + 3  # the broken resident's first "hi", then one reply to each of the three good turns


def _signed(number: str, body: str, sid: str) -> tuple[dict[str, str], dict[str, str]]:
    form = {"MessageSid": sid, "AccountSid": TWILIO_ENV["LOOPLINE_TWILIO_ACCOUNT_SID"], "From": number}
    form |= {"To": TWILIO_ENV["LOOPLINE_TWILIO_FROM"], "Body": body}
    signature = sign_twilio(TWILIO_ENV["LOOPLINE_TWILIO_AUTH_TOKEN"], "http://testserver" + SMS_PATH, form)
    return form, {"X-Twilio-Signature": signature}


def test_webhooks_that_arrive_together_share_commits_and_each_gets_its_own_reply(runtime: Runtime) -> None:
    commits: list[int] = []
    event.listen(runtime.db.engine, "commit", lambda _conn: commits.append(1))
    numbers = [f"+1415555{n:04d}" for n in range(2000, 2040)]
    requests = [_signed(n, "hi", f"SM{index:032d}") for index, n in enumerate(numbers)]
    requests += [requests[0], requests[1]]  # two sent again by the provider

    async def send_all() -> list[httpx.Response]:
        app = create_app(runtime, deliver=False)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            calls: list[Any] = [client.post(SMS_PATH, data=form, headers=headers) for form, headers in requests]
            return list(await asyncio.gather(*calls))

    answers = asyncio.run(send_all())
    assert [a.status_code for a in answers] == [200] * len(requests)
    replied = [a for a in answers if "<Message>" in a.text]
    assert len(replied) >= len(numbers)  # each first arrival answered; a resend in the same group is not
    assert _in_messages(runtime) == {"handled": len(numbers)}
    assert 1 <= len(commits) < len(numbers) // 2, f"{len(commits)} commits for {len(numbers)} messages"


def test_groups_overlap_only_when_the_database_is_a_network_away() -> None:
    assert lanes_for(0.0, embedded=True) == lanes_for(0.01, embedded=True) == 1  # SQLite: one writer
    assert lanes_for(0.00005, embedded=False) == 1  # PostgreSQL on the same machine: threads would only contend
    assert lanes_for(0.0008, embedded=False) == MOST_LANES  # across a network: the round trips overlap


def test_the_round_trip_is_measured(runtime: Runtime) -> None:
    taken = runtime.db.round_trip_seconds()
    if runtime.db.is_sqlite:
        assert taken == 0.0
    else:
        assert 0.0 < taken < 0.5


def test_groups_in_flight_at_once_store_and_answer_each_message_once(runtime: Runtime) -> None:
    """Several lanes (as over a network): groups overlap, residents' locks taken in one order, nothing lost."""
    numbers = [f"+1415555{n:04d}" for n in range(3000, 3030)]
    arrivals = [_arrival(n, body) for body in ("hi", "1") for n in numbers]

    async def send_all() -> list[Handled]:
        commit = GroupCommit(runtime.db, runtime.pipeline, most=8, lanes=MOST_LANES)
        return list(await asyncio.gather(*(commit.handle(arrival) for arrival in arrivals)))

    outcomes = asyncio.run(send_all())
    assert all(o.message_id is not None and not o.failed for o in outcomes)
    assert _in_messages(runtime) == {"handled": len(arrivals)}
