"""The public page, in every supported language: open polls, upcoming events, published decisions, results."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.engagement import proposals, representation
from bot.engagement.areas import area_names
from bot.engagement.decisions import co_decision, progress
from bot.engagement.decisions import publishing as decisions
from bot.engagement.events.calendar import upcoming
from bot.engagement.feedback import response_times
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.engagement.polls.public_results import (
    SMALLEST_GROUP,
    PollAnswers,
    PublicQuestion,
    percent,
    public_results,
    tally_poll,
)
from bot.i18n.catalogs import Translator, _
from bot.i18n.formatting import babel_locale, format_event_time, format_number_for, format_or_list
from bot.i18n.negotiation import NATIVE_NAMES, SUPPORTED_LOCALES, negotiate, pick_text, text_direction
from bot.runtime import Runtime
from bot.staff import co_owners
from bot.states import DecisionStage, DecisionStatus, PollStatus, ProposalState
from bot.store.engagement import Decision, DecisionLink, DecisionStageChange, InputItem, Poll
from bot.web.guard import runtime_of
from bot.web.rendering import CONTENT_SECURITY_POLICY, templates

PUBLIC_HEADERS = {
    "Cache-Control": "public, max-age=60",
    "Vary": "Accept-Language",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
}
MAX_DECISIONS = 50
MAX_EVENTS = 10
MAX_PROPOSALS = 20


def chosen_locale(request: Request, default: str) -> str:
    """?lang= when it names a supported language, else the best of Accept-Language, else the program's default."""
    asked = request.query_params.get("lang", "")[:20]
    if asked and negotiate(asked, default="") in SUPPORTED_LOCALES:
        return negotiate(asked, default="")
    ranked = []
    for index, part in enumerate(request.headers.get("accept-language", "")[:500].split(",")):
        tag, _, weight = part.strip().partition(";q=")
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag))
    for _quality, _index, tag in sorted(ranked):
        found = negotiate(tag, default="")
        if found in SUPPORTED_LOCALES:
            return found
    return default if default in SUPPORTED_LOCALES else "en"


def html_lang(locale: str) -> str:
    """The BCP 47 tag of a locale for lang= attributes (zh_Hans -> zh-Hans)."""
    return locale.replace("_", "-")


@dataclass(frozen=True)
class PublicDecision:
    """A published decision as the public page shows it (no resident, no unpublishable text)."""

    slug: str
    title: str
    summary: str
    changed: str
    not_adopted: str
    decided_by: str
    partners: list[str]
    published: str
    contributions: int
    polls: list[tuple[str, list[PublicQuestion]]]
    quotes: list[tuple[str, str]]  # (locale, text) of linked items staff marked publishable
    stage: str = ""  # where it stands, in the reader's language
    timeline: list[tuple[str, str, str]] = field(default_factory=list)  # (date, stage, why)
    happened: list[tuple[str, int]] = field(default_factory=list)  # "Did it happen?" answers, 5 or more in all


class _Pages:
    """What the public decisions of one request share: their links and contributions read together, each poll
    tallied once (decisions often cite the same poll, and a tally reads every answer)."""

    def __init__(self, session: Session, runtime: Runtime, published: list[Decision]) -> None:
        self.session, self.runtime = session, runtime
        ids = [decision.id for decision in published]
        self.contributions = decisions.contributions_of(session, published)
        self.polls: dict[int, list[Poll]] = defaultdict(list)
        for decision_id, poll in session.execute(
            select(DecisionLink.decision_id, Poll)
            .join(Poll, Poll.id == DecisionLink.poll_id)
            .where(DecisionLink.decision_id.in_(ids))
            .order_by(Poll.slug)
        ):
            self.polls[decision_id].append(poll)
        self.quotes: dict[int, list[tuple[str, str]]] = defaultdict(list)  # linked items marked publishable
        for decision_id, item_locale, text in session.execute(
            select(DecisionLink.decision_id, InputItem.locale, InputItem.text)
            .join(InputItem, InputItem.id == DecisionLink.input_item_id)
            .where(DecisionLink.decision_id.in_(ids), InputItem.publishable.is_(True))
            .order_by(InputItem.ref)
        ):
            self.quotes[decision_id].append((item_locale, text))
        self.tallies: dict[int, PollAnswers | None] = {}
        self.timelines: dict[int, list[DecisionStageChange]] = defaultdict(list)
        for change in session.scalars(
            select(DecisionStageChange).where(DecisionStageChange.decision_id.in_(ids)).order_by(DecisionStageChange.id)
        ):
            self.timelines[change.decision_id].append(change)
        self.check_backs = progress.check_backs(session, ids)
        runtime.flows.refresh(session, at_most_every=30)

    def tally(self, poll: Poll) -> PollAnswers | None:
        if poll.id not in self.tallies:
            version = self.runtime.flows.latest.get(POLL_FLOW_PREFIX + poll.slug)
            flow = self.runtime.flows.get(self.session, version) if version is not None else None
            self.tallies[poll.id] = tally_poll(self.session, poll, flow) if flow is not None else None
        return self.tallies[poll.id]

    def decision(self, decision: Decision, locale: str) -> PublicDecision:
        settings = self.runtime.settings
        default = settings.default_locale
        zone = ZoneInfo(settings.timezone)
        published = decision.published_at or decision.updated_at
        polls = []
        for poll in self.polls[decision.id]:
            answers = self.tally(poll)
            if answers is not None:
                polls.append((pick_text(poll.title, locale, default), public_results(answers, locale)))
        return PublicDecision(
            slug=decision.slug,
            title=pick_text(decision.title, locale, default),
            summary=pick_text(decision.summary, locale, default),
            changed=pick_text(decision.changed, locale, default),
            not_adopted=pick_text(decision.not_adopted, locale, default),
            decided_by=decision.decided_by,
            partners=co_decision.names(self.session, decision),
            published=format_date(published.astimezone(zone), format="long", locale=babel_locale(locale)),
            contributions=self.contributions[decision.id],
            polls=polls,
            quotes=self.quotes[decision.id],
            **self._progress(decision, locale),
        )

    def _progress(self, decision: Decision, locale: str) -> dict[str, Any]:
        """Where a decision stands, its moves, and what contributors said about whether it happened (5 or more)."""
        default, translator = self.runtime.settings.default_locale, Translator(locale)
        zone, where = ZoneInfo(self.runtime.settings.timezone), babel_locale(locale)

        def stage_name(stage: str | None) -> str:
            return translator.gettext(progress.STAGE_NAMES.get(DecisionStage(stage or "published"), ""))

        moves = [
            (
                format_date(c.at.astimezone(zone), format="long", locale=where),
                stage_name(c.stage),
                pick_text(c.why, locale, default),
            )
            for c in self.timelines[decision.id]
        ]
        said = self.check_backs.get(decision.id)
        names = {"yes": translator.gettext(YES), "partly": translator.gettext(PARTLY), "no": translator.gettext(NO)}
        happened = [(names[a], said[a]) for a in progress.ANSWERS] if said and said.total() >= SMALLEST_GROUP else []
        return {"stage": stage_name(decision.stage), "timeline": moves, "happened": happened}


def _open_polls(session: Session, locale: str, default: str) -> list[dict[str, str]]:
    rows = session.scalars(
        select(Poll).where(Poll.status == PollStatus.OPEN).order_by(Poll.opened_at.desc(), Poll.id.desc())
    )
    polls = list(rows)
    owned = co_owners.names_of(session, "poll", [poll.slug for poll in polls])
    return [
        {
            "title": pick_text(poll.title, locale, default),
            "keyword": pick_text(poll.keywords, locale, default) or "POLL",
            "partners": ", ".join(owned.get(poll.slug, [])),
        }
        for poll in polls
    ]


def _events(session: Session, now: datetime, locale: str, default: str) -> list[dict[str, str]]:
    return [
        {
            "title": pick_text(event.title, locale, default),
            "place": pick_text(event.place, locale, default),
            "description": pick_text(event.description, locale, default),
            "when": format_event_time(
                event.starts_at, event.ends_at, locale, event_zone=event.timezone, reader_zone=None, sms=False
            ),
            "iso": event.starts_at.isoformat(),
        }
        for event in upcoming(session, now, limit=MAX_EVENTS)
    ]


def _proposals(session: Session, locale: str) -> list[dict[str, Any]]:
    """Published proposals, the most supported first: their words as written, in their own language."""
    published = proposals.listed(session, ProposalState.PUBLISHED)[:MAX_PROPOSALS]
    owned = co_owners.names_of(session, "proposal", [str(p.ref) for p in published])
    return [
        {
            "ref": p.ref,
            "text": p.text,
            "lang": html_lang(p.locale or locale),
            "supporters": p.supporters,
            "partners": ", ".join(owned.get(str(p.ref), [])),
        }
        for p in published
    ]


def _render(request: Request, template: str, locale: str, status_code: int = 200, **context: Any) -> Response:
    runtime = runtime_of(request)
    translator = Translator(locale)
    path = request.url.path
    context.update(
        _=translator.gettext,
        ngettext=translator.ngettext,
        locale=locale,
        lang=html_lang(locale),
        dir=text_direction(locale),
        program=runtime.settings.program_name,
        ways=ways_in(runtime.settings.live_channels, locale),
        languages=[
            (loc, html_lang(loc), NATIVE_NAMES[loc], f"{path}?{urlencode({'lang': loc})}") for loc in SUPPORTED_LOCALES
        ],
    )
    headers = {**PUBLIC_HEADERS, "Content-Language": html_lang(locale)}
    return templates.TemplateResponse(request, template, context, status_code=status_code, headers=headers)


def _who_takes_part(session: Session, locale: str) -> list[dict[str, Any]]:
    """Who takes part, by language and area, against the population: shares only, a group under 5 not shown."""
    found = representation.kept_report(session)
    if found.respondents < SMALLEST_GROUP:
        return []
    translator, names = Translator(locale), area_names(session)
    tables = []
    for dimension in (d for d in found.dimensions if d.dimension in ("language", "area")):
        rows = []
        for g in sorted(dimension.groups, key=lambda g: -(g.population_share or g.share)):
            if g.group == "not known":
                continue
            label = NATIVE_NAMES.get(g.group, g.group) if dimension.dimension == "language" else g.group
            rows.append(
                {
                    "group": pick_text(names.get(label) or {}, locale) or label,
                    "share": percent(g.share, locale) if g.respondents >= SMALLEST_GROUP else translator.gettext(FEW),
                    "population": percent(g.population_share, locale) if g.population_share is not None else "",
                }
            )
        heading = BY_LANGUAGE if dimension.dimension == "language" else BY_AREA
        tables.append({"heading": translator.gettext(heading), "rows": rows})
    return tables


def _how_fast(session: Session, locale: str, days: int) -> dict[str, Any] | None:
    """How fast input is answered, overall and by language and area (the median, the share on time); a group of
    fewer than 5 answered is not told apart. None until 5 items are answered."""
    found = response_times.speeds(session, days)
    if found.overall.median_days is None:
        return None
    translator, names = Translator(locale), area_names(session)

    def row(speed: response_times.Speed, label: str) -> dict[str, str]:
        typical, on_time = speed.median_days, speed.on_time
        return {
            "group": label,
            "answered": format_number_for(speed.answered, locale),
            "typical": translator.ngettext("{n} day", "{n} days", round(typical)) if typical is not None else "",
            "on_time": percent(on_time, locale) if on_time is not None else translator.gettext(FEW),
        }

    def label(group: str, dimension: str) -> str:
        if not group:
            return translator.gettext(FEWER_EACH)
        if dimension == "language":
            return NATIVE_NAMES.get(group, group)
        return pick_text(names.get(group) or {}, locale) or group

    tables = [
        {"heading": translator.gettext(heading), "rows": [row(s, label(s.group, dimension)) for s in speeds]}
        for heading, dimension, speeds in (
            (BY_LANGUAGE, "language", found.by_language),
            (BY_AREA, "area", found.by_area),
        )
    ]
    return {"days": days, "overall": row(found.overall, ""), "tables": tables}


def ways_in(live: list[str], locale: str) -> str:
    """How residents reach the program, in the page's language ("text message, WhatsApp, or Telegram"): the live
    channels (text message when none is, as where the simulator stands in for it)."""
    translator = Translator(locale)
    names = {channel: translator.gettext(name) for channel, name in CHANNEL_NAMES.items()}
    return format_or_list([names[c] for c in ("sms", "whatsapp", "telegram") if c in live] or [names["sms"]], locale)


CHANNEL_NAMES = {"sms": _("text message"), "whatsapp": _("WhatsApp"), "telegram": _("Telegram")}
FEW = _("fewer than 5")
YES, PARTLY, NO = _("Yes"), _("Partly"), _("No")
FEWER_EACH = _("groups of fewer than 5, together")
BY_LANGUAGE = _("By language")
BY_AREA = _("By area")


async def public_page(request: Request) -> Response:
    """GET /public: open polls, upcoming events and published decisions with their aggregate results."""
    runtime = runtime_of(request)
    settings = runtime.settings
    locale = chosen_locale(request, settings.default_locale)

    def load(session: Session) -> dict[str, Any]:
        published = session.scalars(
            select(Decision)
            .where(Decision.status == DecisionStatus.PUBLISHED)
            .order_by(Decision.published_at.desc(), Decision.id.desc())
            .limit(MAX_DECISIONS)
        ).all()
        pages = _Pages(session, runtime, list(published))
        return {
            "polls": _open_polls(session, locale, settings.default_locale),
            "events": _events(session, runtime.clock.now(), locale, settings.default_locale),
            "decisions": [pages.decision(d, locale) for d in published],
            "who": _who_takes_part(session, locale),
            "proposals": _proposals(session, locale),
            "how_fast": _how_fast(session, locale, settings.response_days),
        }

    return _render(request, "public.html", locale, **await runtime.db.in_transaction(load))


async def public_decision(request: Request) -> Response:
    """GET /public/decisions/{slug}: one published decision."""
    runtime = runtime_of(request)
    locale = chosen_locale(request, runtime.settings.default_locale)
    slug = str(request.path_params["slug"])[:64]

    def load(session: Session) -> PublicDecision | None:
        decision = session.scalars(
            select(Decision).where(Decision.slug == slug, Decision.status == DecisionStatus.PUBLISHED)
        ).first()
        return None if decision is None else _Pages(session, runtime, [decision]).decision(decision, locale)

    found = await runtime.db.in_transaction(load)
    if found is None:
        return _render(request, "public_missing.html", locale, status_code=404)
    return _render(request, "public_decision.html", locale, decision=found)


ROUTES: list[BaseRoute] = [
    Route("/public", public_page, methods=["GET"]),
    Route("/public/decisions/{slug:str}", public_decision, methods=["GET"]),
]
