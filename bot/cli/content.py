"""Content commands of the `loopline` CLI: flows validate/load, polls open/close/list, results, demo."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.channels import simulator
from bot.cli.context import command_runtime, fail
from bot.conversation.flows.loader import UnreadableFile, place_lines, place_text, read_document
from bot.conversation.flows.schema import FlowError, flow_problems
from bot.engagement import weighting, whatsapp_templates
from bot.engagement.areas import load_areas
from bot.engagement.events.calendar import event_problems, load_event, moved_to_offset
from bot.engagement.polls import definition as poll_store
from bot.engagement.polls import tally as poll_results
from bot.engagement.polls.answers import POLL_FLOW_PREFIX
from bot.engagement.polls.definition import poll_problems
from bot.engagement.representation import load_baseline
from bot.staff import accounts, audit
from bot.store.engagement import Poll
from bot.store.models import Address
from bot.store.staff import User

DEMO_DIR = Path(__file__).resolve().parents[1] / "engagement" / "demo"
DEMO_ADMIN = "admin@demo.loopline.example"


def demo_admin(session: Session, now: datetime) -> str:
    """Create (or give a new password to) the demo admin; the password, to print."""
    password = secrets.token_urlsafe(12)
    user = session.scalars(select(User).where(User.email == DEMO_ADMIN)).first()
    if user is None:
        accounts.create_user(session, DEMO_ADMIN, password, "admin", now)
    else:
        user.role = "admin"
        accounts.set_active(session, user, True, audit.cli_actor(), now)
        accounts.set_password(session, user, password, audit.cli_actor(), now)
    return password


# Every error of a document of each kind, each with its place (a file without a kind holds a flow).
PROBLEMS: dict[str, Callable[[dict[str, Any]], list[FlowError]]] = {
    "flow": flow_problems,
    "poll": poll_problems,
    "event": event_problems,
    whatsapp_templates.KIND: whatsapp_templates.template_problems,
}


def file_problems(path: Path) -> list[str]:
    """Every error in one content file at once, in the order of the file, one line each: `FILE:LINE: where: what is
    wrong`, LINE where that place starts (a YAML syntax error at its own line)."""
    try:
        document = read_document(path)
    except UnreadableFile as exc:
        return [f"{path}:{exc.line or 1}: {exc.problem}"]
    kind = document.get("kind", "flow")
    problems = PROBLEMS.get(kind)
    if problems is None:
        found = [FlowError(f"kind must be one of {', '.join(PROBLEMS)}, got {kind!r}", place=("kind",))]
    else:
        found = problems(document)
    line = place_lines(path.read_text(encoding="utf-8"))
    placed = sorted(((line(error.place), error) for error in found), key=lambda pair: pair[0])
    return [f"{path}:{at}: {place_text(error.place) or kind}: {error.problem}" for at, error in placed]


def _documents(files: tuple[Path, ...]) -> list[tuple[Path, dict[str, Any]]]:
    """Each file read and checked: an ok line each, or every error of every file and the exit status 1."""
    found, failed = [], False
    for path in files:
        problems = file_problems(path)
        for problem in problems:
            click.echo(problem, err=True)
        if problems:
            failed = True
            continue
        document = read_document(path)
        click.echo(f"ok {path} ({document.get('kind', 'flow')} {document.get('slug', path.stem)})")
        found.append((path, document))
    if failed:
        sys.exit(1)
    return found


@click.group()
def flows() -> None:
    """Check and load flow and poll files (YAML, kept in version control)."""


@flows.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check files; errors name the file, the node or question and the missing language."""
    _documents(files)


@flows.command("load")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(files: tuple[Path, ...]) -> None:
    """Store each file as a new version (conversations in progress keep the version they started on)."""
    documents = _documents(files)
    with command_runtime() as runtime, runtime.db.transaction() as session:
        for path, document in documents:
            if document.get("kind") == "poll":
                poll, version = poll_store.load_poll(session, document, runtime.flows, runtime.clock)
                click.echo(f"loaded poll {poll.slug} ({poll.status}), questions version {version}")
            elif document.get("kind") == whatsapp_templates.KIND:
                count = whatsapp_templates.load_templates(session, document, audit.cli_actor(), runtime.clock.now())
                click.echo(f"registered {count} WhatsApp contents from {path}")
            elif document.get("kind") == "event":
                event = load_event(session, document, runtime.clock.now())
                click.echo(f"loaded event {event.slug} ({event.starts_at.isoformat()})")
            else:
                row = runtime.flows.store(session, document, runtime.clock)
                click.echo(f"loaded flow {row.slug} version {row.version} from {path}")


@click.group()
def polls() -> None:
    """List polls and move them from draft to open to closed."""


@polls.command("list")
def list_polls() -> None:
    """Every poll with its status and keywords."""

    with command_runtime() as runtime, runtime.db.transaction() as session:
        for poll in session.scalars(select(Poll).order_by(Poll.id)):
            words = ", ".join(poll.keywords.values())
            click.echo(f"{poll.slug}\t{poll.status}\t{words}\t{poll.title.get('en', '')}")


def _set_status(slug: str, status: str) -> None:
    with command_runtime() as runtime:
        try:
            with runtime.db.transaction() as session:
                poll = poll_store.set_status(session, slug, status, runtime.clock.now())
        except LookupError as exc:
            fail(str(exc))
    click.echo(f"{poll.slug} is {poll.status}")


@polls.command("open")
@click.argument("slug")
def open_poll(slug: str) -> None:
    """Open a poll: residents can reach it by POLL or its keyword."""
    _set_status(slug, "open")


@polls.command("close")
@click.argument("slug")
def close_poll(slug: str) -> None:
    """Close a poll: residents are told it is closed and where its results are."""
    _set_status(slug, "closed")


@click.command()
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--weighted", is_flag=True, help="Also weighted to the population baseline (raking), with its cost.")
def results(slug: str, fmt: str, weighted: bool) -> None:
    """Results of a poll: counts per resident and percentages, by language, area and channel."""

    with command_runtime() as runtime, runtime.db.transaction() as session:
        poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
        if poll is None:
            click.echo(f"loopline: no poll {slug!r}", err=True)
            sys.exit(2)
        runtime.flows.refresh(session)
        flow = runtime.flows.get(session, runtime.flows.latest[POLL_FLOW_PREFIX + slug])
        found = poll_results.poll_results(session, poll, flow)
        if weighted:
            weights, adjusted = weighting.weighted(session, poll, flow)
            click.echo(weighting.as_text(weights, adjusted, fmt))
            return
    render = {"table": poll_results.as_table, "csv": poll_results.as_csv, "json": poll_results.as_json}[fmt]
    click.echo(render(found))


# Demo residents (with --residents): simulator handle, language menu number, area, the poll's answers (top need,
# ranking, idea), a piece of feedback and a yes to the health fair. They speak through the real pipeline, like anyone
# in the simulator.
DEMO_VOICES = (
    ("demo-en-1", "1", "94110", "2", "2 1 3", "More counselors at the high school", "The clinic closes too early."),
    ("demo-en-2", "1", "94124", "4", "4 5 1", "", "Trucks idle next to the playground all day."),
    ("demo-es-1", "2", "94110", "1", "1 3 2", "Una clínica abierta los sábados", "No hay intérpretes en la clínica."),
    (
        "demo-es-2",
        "2",
        "94124",
        "3",
        "3 1 4",
        "Un mercado de frutas en el barrio",
        "La parada del autobús no tiene sombra.",
    ),
    ("demo-zh-1", "3", "94133", "1", "1 2 5", "社区中心需要中文的健康讲座", "诊所的等候时间太长了。"),
    ("demo-vi-1", "4", "94112", "3", "3 2 1", "Chợ nông sản gần nhà", "Cần thêm phiên dịch tiếng Việt ở phòng khám."),
    ("demo-ar-1", "5", "94112", "2", "2 1 5", "مجموعة دعم نفسي باللغة العربية", "نحتاج إلى إنارة أفضل في الحديقة."),
    ("demo-fr-1", "6", "94133", "5", "5 1 2", "Des passages piétons plus sûrs", "Les trottoirs sont trop étroits."),
)


def seed_demo_residents(runtime: Any) -> int:
    """Demo residents who join, answer the demo poll, give feedback and say they will come to the health fair,
    through the real pipeline (once)."""
    with runtime.db.transaction() as session:
        if session.scalars(select(Address.id).where(Address.value.like("demo-%"))).first() is not None:
            return 0
    for serial, (handle, menu, area, need, ranking, idea, feedback) in enumerate(DEMO_VOICES):
        script = ["hi", menu, "1", area, "POLL", need, ranking, idea or "SKIP", "FEEDBACK", feedback, "1", "1"]
        script += ["EVENTS", "1", "1"]  # yes to the soonest event, the health fair (staff can tick them there)
        for step, text in enumerate(script):
            inbound = simulator.parse(handle, text, f"demo-{serial}-{step}", runtime.clock.now())
            runtime.pipeline.handle(inbound, reply_inline=True)
    return len(DEMO_VOICES)


@click.command()
@click.option("--residents", is_flag=True, help="Also add demo residents who answer the poll and give feedback.")
@click.option(
    "--url",
    default=None,
    help="Where the server answers, for the links printed (default: LOOPLINE_PUBLIC_URL or :8000).",
)
def demo(residents: bool, url: str | None) -> None:
    """Seed demo content in all six languages (a health poll, opened; two events) to try in the simulator."""
    with command_runtime(migrate=True) as runtime:
        with runtime.db.transaction() as session:
            stored, _placed = load_areas(
                session,
                (DEMO_DIR / "areas.csv").read_text(encoding="utf-8"),
                runtime.settings.default_locale,
                audit.cli_actor(),
                runtime.clock.now(),
            )
            click.echo(f"{stored} demo areas (ZIP codes and neighbourhoods): see the dashboard's Areas page")
            baseline = (DEMO_DIR / "baseline.csv").read_text(encoding="utf-8")
            load_baseline(session, baseline, runtime.settings.default_locale, audit.cli_actor(), runtime.clock.now())
            click.echo("a demo population baseline (illustrative): loopline representation health-priorities")
            for path in sorted(DEMO_DIR.glob("*.yaml")):
                document = read_document(path)
                if document.get("kind") == "poll":
                    poll, _version = poll_store.load_poll(session, document, runtime.flows, runtime.clock)
                    poll_store.set_status(session, poll.slug, "open", runtime.clock.now())
                    click.echo(f"demo poll {poll.slug} is open: text POLL or {poll.keywords.get('en', 'POLL')}")
                elif document.get("kind") == "event":
                    event = load_event(session, moved_to_offset(document, runtime.clock.now()), runtime.clock.now())
                    click.echo(f"demo event {event.slug} on {event.starts_at.date().isoformat()}: text EVENTS")
            password = demo_admin(session, runtime.clock.now())
        if residents:
            added = seed_demo_residents(runtime)
            if added:
                click.echo(f"{added} demo residents answered the poll and gave feedback: see the dashboard's inbox")
            else:
                click.echo("The demo residents are already there.")
    base = (url or runtime.settings.public_url or "http://127.0.0.1:8000").rstrip("/")
    click.echo(f"Feedback: text FEEDBACK at any time. Try it all in the simulator: {base}/simulator")
    click.echo(
        f"Dashboard: sign in at {base}/login as {DEMO_ADMIN} with the password {password} (new at every demo run)"
    )
