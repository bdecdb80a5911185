"""The same person on SMS and on Telegram, merged from the resident page: one record, the newest answer,
everything they said, and STOP on either channel stops both."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.messages import Channel
from bot.runtime import Runtime
from bot.store.engagement import Answer, AuditEvent, InputItem
from bot.store.models import Address, Resident
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in
from tests.support.voices import answer_demo_poll, give_feedback, join, open_demo_poll


def _ids(runtime: Runtime) -> dict[str, int]:
    with runtime.db.transaction() as session:
        return {channel: rid for channel, rid in session.execute(select(Address.channel, Address.resident_id))}


def test_merge_then_stop_on_one_channel_stops_both(
    client: TestClient, runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    open_demo_poll(runtime)
    sms = join(chat, Channel.SMS, "+14155550190", "en", area="94110")
    answer_demo_poll(sms, "1")
    telegram = join(chat, Channel.TELEGRAM, "7300190", "en")
    answer_demo_poll(telegram, "3", idea="A farmers market")
    give_feedback(telegram, "en", "More buses on Sundays", may_contact=True)
    ids = _ids(runtime)
    assert ids["sms"] != ids["telegram"]

    csrf = sign_in(client, make_user(runtime, "staff"))
    assert (
        client.post(f"/dashboard/residents/{ids['sms']}/merge", data={"csrf_token": csrf, "other": "x"}).status_code
        == 400
    )
    self_merge = client.post(
        f"/dashboard/residents/{ids['sms']}/merge", data={"csrf_token": csrf, "other": str(ids["sms"])}
    )
    assert self_merge.status_code == 400 and "themselves" in self_merge.text
    merged = client.post(
        f"/dashboard/residents/{ids['sms']}/merge",
        data={"csrf_token": csrf, "other": f"#{ids['telegram']}"},
        follow_redirects=False,
    )
    assert merged.status_code == 303
    page = client.get(merged.headers["location"]).text
    assert "+14155550190" in page and "7300190" in page and "More buses on Sundays" in page

    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Resident)) == 1
        keep = session.get(Resident, ids["sms"])
        assert keep is not None and keep.area == "94110"
        top = session.scalars(select(Answer).where(Answer.question == "top_need")).one()
        assert top.resident_id == ids["sms"] and top.value["value"] == "healthy_food"  # the newer answer wins
        assert set(session.scalars(select(InputItem.resident_id))) == {ids["sms"]}
        assert session.scalar(select(AuditEvent.details).where(AuditEvent.action == "resident.merge")) == {
            "merged": ids["telegram"],
            "consent": "granted",
        }

    telegram.send("STOP")
    with runtime.db.transaction() as session:
        assert session.get(Resident, ids["sms"]).consent == "revoked"  # type: ignore[union-attr]
    sms.send("START")
    with runtime.db.transaction() as session:
        assert session.get(Resident, ids["sms"]).consent == "granted"  # type: ignore[union-attr]
