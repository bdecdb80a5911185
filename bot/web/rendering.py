"""How the dashboard is rendered: the templates, the navigation, the Content-Security-Policy and private headers
every page carries, and the one error page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.engagement.feedback.topics import topic_choices, topic_label
from bot.engagement.forms import language_name
from bot.runtime import Runtime
from bot.staff import accounts, audit

TEMPLATES_DIR = Path(__file__).parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
# Plain words, never internal names: a topic by its label, a language by its name, a person by their e-mail.
templates.env.filters.update(topic=topic_label, language=language_name, actor=audit.actor_name)
templates.env.globals.update(topic_label=topic_label, language_name=language_name, topic_choices=topic_choices)
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)
PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

# Dashboard navigation: (path, label, permission needed to see it).
NAV = (
    ("/dashboard", "Overview", "view"),
    ("/dashboard/polls", "Polls", "view"),
    ("/dashboard/events", "Events", "view"),
    ("/dashboard/broadcasts", "Broadcasts", "broadcast"),
    ("/dashboard/inbox", "Inbox", "view"),
    ("/dashboard/proposals", "Proposals", "triage"),
    ("/dashboard/themes", "Themes", "triage"),
    ("/dashboard/decisions", "Decisions", "view"),
    ("/dashboard/trust", "Trust", "view"),
    ("/dashboard/areas", "Areas", "content"),
    ("/dashboard/whatsapp", "WhatsApp", "content"),
    ("/dashboard/compensation", "Compensation", "pay"),
    ("/dashboard/users", "Users", "users"),
    ("/dashboard/audit", "Audit log", "audit"),
)
ERRORS = {
    400: ("Cannot do that", "The request could not be carried out."),
    403: ("Not allowed", "Your role does not allow this."),
    404: ("Not found", "There is no such page."),
}


@dataclass(frozen=True)
class FormError:
    """A form sent back: which one (its action's last word), what is wrong, and what was typed, so that the page shows
    it again with the error beside it instead of a dead end."""

    form: str
    message: str
    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, form: str, message: str, typed: Mapping[str, object]) -> FormError:
        """The error with what was typed (the CSRF token left out)."""
        return cls(form, message, {k: str(v) for k, v in typed.items() if k != "csrf_token"})

    def typed(self, form: str, name: str, default: str = "") -> str:
        """What was typed into a field of that form, else the default."""
        return self.values.get(name, default) if form == self.form else default


def local_time(timezone: str) -> Callable[[datetime | str | None], str]:
    """How staff read a moment: in the program's time zone, with the zone's abbreviation ("2026-03-15 12:05 PDT");
    a stored ISO text works too."""
    zone = ZoneInfo(timezone)

    def show(value: datetime | str | None) -> str:
        if not value:
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")

    return show


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """A dashboard page: the template with the signed-in person, their CSRF token and their navigation."""
    staff: accounts.Staff | None = getattr(request.state, "staff", None)
    zone = _runtime(request).settings.timezone
    context.setdefault("when", local_time(zone))
    context.update(
        zone=zone,
        staff=staff,
        csrf_token=staff.csrf_token if staff else "",
        nav=[(path, label) for path, label, need in NAV if staff and staff.can(need)],
        current_path=request.url.path,
        program=_runtime(request).settings.program_name,
        notice=context.get("notice") or request.query_params.get("done", "")[:200],
    )
    return templates.TemplateResponse(request, template, context, status_code=status_code, headers=PRIVATE_HEADERS)


def error_page(request: Request, status_code: int, message: str = "", title: str = "") -> Response:
    """The one error page of the dashboard: a 400, 403 or 404 with a title and a sentence saying what to do."""
    default_title, default_message = ERRORS.get(status_code, ERRORS[400])
    return render(
        request,
        "dashboard/error.html",
        status_code=status_code,
        title=title or default_title,
        message=message or default_message,
    )
