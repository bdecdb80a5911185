"""Residents set the agenda (issue 15, item 1): PROPOSE in each language makes a proposal with a reference; staff
publish, merge or decline it (the proposer told in their language, each audited); SUPPORT and its number, in each
language, supports a published proposal once, counted by language, area and channel."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot.conversation.keywords import Keyword, match_keyword, match_support
from bot.engagement import agenda_poll, proposals
from bot.engagement.polls.report import latest_flow
from bot.messages import Channel
from bot.program import Program
from bot.runtime import Runtime
from bot.staff import sharing
from bot.states import ProposalState
from bot.store.engagement import AuditEvent, InputItem, Poll
from bot.store.models import OutboxItem
from bot.store.proposals import Proposal, ProposalSupport
from bot.store.staff import Organization
from bot.web.app import create_app
from tests.support.chat import Chat
from tests.support.staff import make_user, sign_in

JOIN = {
    "en": ["hi", "1", "yes", "94110", "no"],
    "es": ["hola", "2", "sí", "94124", "no"],
    "vi": ["Xin chào", "4", "có", "bỏ qua", "không"],
}


def _joined(chat: Callable[..., Chat], number: str, locale: str) -> Chat:
    resident = chat(Channel.SMS, number)
    for text in JOIN[locale]:
        resident.send(text)
    return resident


def _said(resident: Chat, text: str) -> str:
    return "\n".join(s.text for s in resident.send(text))


def _proposed(runtime: Runtime, resident: Chat, word: str, text: str) -> int:
    _said(resident, word)
    _said(resident, text)
    with runtime.db.transaction() as session:
        item = session.scalars(select(InputItem).where(InputItem.text == text)).one()
        assert item.kind == "proposal" and item.topic is None
        return item.ref


def _moderate(runtime: Runtime, ref: int, action: str, **extra: object) -> None:
    with runtime.db.transaction() as session:
        found = proposals.by_ref(session, ref)
        assert found is not None
        proposal, item = found
        program = Program.of(runtime.settings)
        now = runtime.clock.now()
        if action == "publish":
            proposals.publish(session, proposal, item, "staff@x", now, program)
        elif action == "decline":
            proposals.decline(session, proposal, item, str(extra["reason"]), "staff@x", now, program)
        else:
            proposals.merge(session, proposal, item, int(str(extra["into"])), "staff@x", now, program)


def _notices(runtime: Runtime) -> list[str]:
    with runtime.db.transaction() as session:
        return [o.text for o in session.scalars(select(OutboxItem).where(OutboxItem.purpose == "proposal"))]


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("SUPPORT 4821", 4821),
        ("support #4821", 4821),
        ("APOYO 4821", 4821),
        ("soutenir 4821", 4821),
        ("ỦNG HỘ 4821", 4821),
        ("ung ho 4821", 4821),
        ("支持 4821", 4821),
        ("ادعم ٤٨٢١", 4821),
        ("SUPPORT", None),
        ("supporting 4821", None),
        ("I support 4821", None),
    ],
)
def test_support_words_need_a_number(text: str, ref: int | None) -> None:
    assert match_support(text) == ref


@pytest.mark.parametrize(
    "word", ["PROPOSE", "IDEA", "PROPUESTA", "PROPOSER", "IDÉE", "ĐỀ XUẤT", "Y TUONG", "提议", "اقتراح"]
)
def test_propose_words(word: str) -> None:
    assert match_keyword(word) is Keyword.PROPOSE


def test_propose_publish_support_once(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    author = _joined(chat, "+14155550401", "en")
    asked = _said(author, "PROPOSE")
    assert "What should we work on or change?" in asked
    ref = _proposed(runtime, author, "IDEA", "A free clinic on Saturdays at the library")
    assert f"#{ref}: we received it" in _said(author, f"STATUS {ref}")  # followed like any input item
    spanish = _joined(chat, "+14155550402", "es")
    assert "No encontramos una propuesta publicada" in _said(spanish, f"APOYO {ref}")  # not published yet
    _moderate(runtime, ref, "publish")
    assert any(f"SUPPORT {ref}" in text for text in _notices(runtime))
    said = _said(spanish, f"APOYO {ref}")
    assert "A free clinic on Saturdays" in said and "1 persona" in said
    again = _said(spanish, f"apoyo {ref}")
    assert "Ya apoyas" in again and "1 persona" in again
    vietnamese = _joined(chat, "+14155550403", "vi")
    assert "2 người" in _said(vietnamese, f"ỦNG HỘ {ref}")
    with runtime.db.transaction() as session:
        rows = session.scalars(select(ProposalSupport)).all()
        assert sorted((r.locale, r.channel) for r in rows) == [("es", "sms"), ("vi", "sms")]
        assert [a.action for a in session.scalars(select(AuditEvent))] == ["proposal.publish"]


def test_merge_moves_supporters_and_decline_tells_why(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    first = _joined(chat, "+14155550411", "en")
    ref = _proposed(runtime, first, "PROPOSE", "More shade at the bus stops on 3rd Street")
    second = _joined(chat, "+14155550412", "es")
    twin = _proposed(runtime, second, "PROPUESTA", "Sombra en las paradas de autobús")
    third = _joined(chat, "+14155550413", "vi")
    declined = _proposed(runtime, third, "ĐỀ XUẤT", "Một bãi đỗ xe mới")
    for proposal in (ref, twin):
        _moderate(runtime, proposal, "publish")
    _said(first, f"SUPPORT {twin}")
    _said(second, f"APOYO {twin}")
    _said(second, f"APOYO {ref}")
    _moderate(runtime, twin, "merge", into=ref)
    with runtime.db.transaction() as session:
        assert proposals.supporters(session, proposals.by_ref(session, ref)[0].id) == 2  # type: ignore[index]
    assert f"#{ref}" in _said(third, f"ỦNG HỘ {twin}")  # the merged one's number still works: it supports the other
    with pytest.raises(proposals.ProposalError, match="Say why"):
        _moderate(runtime, declined, "decline", reason="  ")
    _moderate(runtime, declined, "decline", reason="The city owns no land there.")
    told = _notices(runtime)
    assert any(f"#{twin}" in t and f"#{ref}" in t and t.startswith("Tu propuesta") for t in told)
    assert any("The city owns no land there." in t for t in told)
    with runtime.db.transaction() as session:
        states = {i.ref: p.state for p, i in session.execute(select(Proposal, InputItem).join(InputItem))}
    assert states == {ref: ProposalState.PUBLISHED, twin: ProposalState.MERGED, declined: ProposalState.DECLINED}


def test_a_proposal_is_not_a_support_after_stop(runtime: Runtime, chat: Callable[..., Chat]) -> None:
    author = _joined(chat, "+14155550421", "en")
    ref = _proposed(runtime, author, "PROPOSE", "Water fountains in every park")
    _moderate(runtime, ref, "publish")
    other = _joined(chat, "+14155550422", "en")
    _said(other, "STOP")
    assert other.send(f"SUPPORT {ref}") == []
    with runtime.db.transaction() as session:
        assert session.scalars(select(ProposalSupport)).first() is None


def test_staff_moderate_on_the_dashboard_and_the_public_page_lists_them(
    runtime: Runtime, chat: Callable[..., Chat]
) -> None:
    author = _joined(chat, "+14155550431", "es")
    ref = _proposed(runtime, author, "PROPUESTA", "Una clínica abierta los sábados")
    other = _proposed(runtime, _joined(chat, "+14155550432", "en"), "IDEA", "Saturday clinic hours")
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
        csrf = sign_in(client, make_user(runtime, "staff"))
        listed = client.get("/dashboard/proposals?state=pending").text
        assert f"#{ref}" in listed and "Una clínica abierta los sábados" in listed
        published = client.post(f"/dashboard/proposals/{ref}/moderate", data={"csrf_token": csrf, "action": "publish"})
        assert "Published: residents can support it" in published.text
        again = client.post(f"/dashboard/proposals/{ref}/moderate", data={"csrf_token": csrf, "action": "publish"})
        assert again.status_code == 400 and "published already" in again.text
        bad = client.post(
            f"/dashboard/proposals/{other}/moderate", data={"csrf_token": csrf, "action": "merge", "into": "x"}
        )
        assert bad.status_code == 400
        merged = client.post(
            f"/dashboard/proposals/{other}/moderate", data={"csrf_token": csrf, "action": "merge", "into": f"#{ref}"}
        )
        assert f"Merged into #{ref}" in merged.text
        for text in ("hi", "1", "yes", "skip", "no", f"SUPPORT {other}"):  # the merged number supports the kept one
            chat(Channel.TELEGRAM, "777001").send(text)
        page = client.get(f"/dashboard/proposals/{ref}").text
        assert 'id="supporters">1<' in page and 'id="supporters-language"' in page
        public = client.get("/public?lang=es").text
        assert (
            "Una clínica abierta los sábados" in public and f"APOYO {ref}" in public and "1 persona la apoya." in public
        )
        assert "Saturday clinic hours" not in public  # merged: only the kept one is shown
        with TestClient(client.app, base_url="http://testserver") as viewer:
            sign_in(viewer, make_user(runtime, "viewer"))
            assert viewer.get("/dashboard/proposals").status_code == 403
        with TestClient(client.app, base_url="http://testserver") as partner:  # partners moderate what is shared
            email = make_user(runtime, "partner", "ana@promotoras.example", organization="Eastside Promotoras")
            token = sign_in(partner, email)
            assert f"#{ref}" not in partner.get("/dashboard/proposals").text
            assert partner.get(f"/dashboard/proposals/{ref}").status_code == 404
            with runtime.db.transaction() as session:
                org = session.scalars(select(Organization.id).where(Organization.name == "Eastside Promotoras")).one()
                sharing.share(session, org, "item", str(ref), runtime.clock.now())
            assert f"#{ref}" in partner.get("/dashboard/proposals").text
            declined = partner.post(
                f"/dashboard/proposals/{ref}/moderate",
                data={"csrf_token": token, "action": "decline", "reason": "Already planned for March."},
            )
            assert "Declined" in declined.text


def test_an_agenda_poll_ranks_the_most_supported(runtime: Runtime, chat: Callable[..., Chat]) -> None:

    refs = []
    for n, (locale, word, text) in enumerate(
        [
            ("en", "IDEA", "Saturday clinic hours"),
            ("es", "PROPUESTA", "Sombra en las paradas"),
            ("vi", "ĐỀ XUẤT", "Thêm phiên dịch"),
        ]
    ):
        refs.append(_proposed(runtime, _joined(chat, f"+1415555044{n}", locale), word, text))
    with runtime.db.transaction() as session, pytest.raises(agenda_poll.AgendaError, match="at least two"):
        agenda_poll.draft(session, runtime.flows, runtime.clock, "en", runtime.clock.now())
    for ref in refs:
        _moderate(runtime, ref, "publish")
    _said(_joined(chat, "+14155550449", "en"), f"SUPPORT {refs[1]}")
    with runtime.db.transaction() as session:
        poll = agenda_poll.draft(session, runtime.flows, runtime.clock, "en", runtime.clock.now())
        assert poll.status == "draft" and poll.keywords["es"] == "PRIORIDADES"
        flow = latest_flow(session, runtime.flows, poll.slug)
        assert flow is not None
        options = [choice.value for choice in flow.nodes["agenda"].choices]
        assert options[0] == f"proposal_{refs[1]}" and len(options) == 3  # the most supported first
        second = agenda_poll.draft(session, runtime.flows, runtime.clock, "en", runtime.clock.now())
        assert second.slug == f"{poll.slug}-2"
        assert len(session.scalars(select(Poll)).all()) == 2


def test_an_agenda_poll_from_proposals_without_words_is_refused_plainly(runtime: Runtime) -> None:
    now = runtime.clock.now()
    with runtime.db.transaction() as session:
        for n, (text, locale) in enumerate([("   ", "en"), ("Sombra", "es"), ("Bancs", "xx")]):
            item = InputItem(
                ref=7100 + n, kind="proposal", text=text, status="received", channel="sms", locale=locale,
                created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(item)
            session.flush()
            proposal = proposals.received(session, item, now)
            proposal.state = ProposalState.PUBLISHED
    with TestClient(create_app(runtime, deliver=False), base_url="http://testserver") as client:
        csrf = sign_in(client, make_user(runtime, "staff"))
        response = client.post("/dashboard/proposals/agenda-poll", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 400 and "cannot make a poll" in response.text
