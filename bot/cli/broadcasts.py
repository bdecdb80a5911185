"""Broadcast commands of the `loopline` CLI: preview, send (now or --at a time) and status."""

from __future__ import annotations

import functools
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from bot.cli.context import RECORD_ID, command_runtime, fail
from bot.conversation.flows.loader import read_document
from bot.conversation.flows.schema import FlowError
from bot.engagement.broadcasts import sending as broadcasts
from bot.engagement.broadcasts.audiences import AudienceError, parse_audience
from bot.i18n.formatting import format_money
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.staff import audit


def _load(path: Path) -> broadcasts.BroadcastFile:
    try:
        return broadcasts.parse_broadcast(read_document(path))
    except FlowError as exc:
        click.echo(f"loopline: {path}: {exc}", err=True)
        sys.exit(1)  # the file needs work, not the command line (as flows validate and load say)


def _audience(expression: str | None):  # type: ignore[no-untyped-def]
    try:
        return parse_audience(expression)
    except AudienceError as exc:
        click.echo(f"loopline: --audience: {exc}", err=True)
        sys.exit(2)


def _send_at(at: str | None, now: datetime) -> datetime:
    """--at as an aware time (UTC when it names no zone), or now."""
    if not at:
        return now
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        fail("--at: give an ISO time like 2026-12-01T09:00-08:00")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@click.group()
def broadcast() -> None:
    """Send a message to an audience, in each resident's language (see README: Broadcasts)."""


AUDIENCE_HELP = "e.g. 'language=es,vi area=94110 channel=sms not-answered=health-priorities rsvp=town-hall:yes'"


@broadcast.command("preview")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--audience", default=None, help=AUDIENCE_HELP)
@click.option("--fallback", type=click.Choice(SUPPORTED_LOCALES), default=None, help="Language for those without one.")
def preview_command(file: Path, audience: str | None, fallback: str | None) -> None:
    """Recipients per language and channel; SMS encoding, segments and cost; what forces UCS-2."""
    message = _load(file)
    chosen = _audience(audience)
    with command_runtime() as runtime, runtime.db.transaction() as session:
        settings = runtime.settings
        if problem := broadcasts.missing_invite(session, message.invite):
            click.echo(f"loopline: {file}: {problem}", err=True)
            sys.exit(1)  # the file needs work, not the command line
        try:
            found = broadcasts.preview(
                session,
                message,
                chosen,
                settings.default_locale,
                settings.sms_price_per_segment,
                fallback,
                at=runtime.clock.now(),
            )
        except AudienceError as exc:  # a poll, question, answer or area that does not exist
            fail(f"--audience: {exc}")
    money = functools.partial(format_money, currency=settings.sms_currency)
    click.echo(f"{message.name}: {found.total} recipients ({found.audience})")
    for entry in found.languages:
        channels = ", ".join(f"{channel} {count}" for channel, count in sorted(entry.recipients.items()))
        click.echo(
            f"  {entry.locale}: {channels}; SMS {entry.encoding}, {entry.segments} segment(s) each, "
            f"cost {money(entry.cost)}"
        )
        if entry.forcing_ucs2:
            shown, more = " ".join(entry.forcing_ucs2[:5]), len(entry.forcing_ucs2) - 5
            forcing = f"{shown} and {more} more" if more > 0 else shown
            click.echo(f"    warning: {forcing} force UCS-2 (70 characters a segment)")
    for locale, count in sorted(found.missing.items()):
        click.echo(f"  missing text: {count} recipients speak {locale} (add it, or --fallback)")
    for window in found.whatsapp:
        template = window.template or "none registered: they cannot be reached (register one, see README)"
        click.echo(
            f"  WhatsApp {window.locale}: {window.inside} inside the 24-hour window, {window.outside} outside "
            f"(they get the template {template})"
        )
    click.echo(f"  estimated SMS cost: {money(found.cost)}")


@broadcast.command("send")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--audience", default=None, help=AUDIENCE_HELP)
@click.option("--at", "at", default=None, help="When to send (ISO time, e.g. 2026-12-01T09:00-08:00); now if absent.")
@click.option("--fallback", type=click.Choice(SUPPORTED_LOCALES), default=None, help="Language for those without one.")
def send_command(file: Path, audience: str | None, at: str | None, fallback: str | None) -> None:
    """Queue the broadcast; refuses if a recipient's language has no text, unless --fallback is given."""
    message = _load(file)
    chosen = _audience(audience)
    with command_runtime() as runtime:
        now = runtime.clock.now()
        send_at = _send_at(at, now)
        settings = runtime.settings
        try:
            with runtime.db.transaction() as session:
                if problem := broadcasts.missing_invite(session, message.invite):
                    click.echo(f"loopline: {file}: {problem}", err=True)
                    sys.exit(1)  # the file needs work, not the command line
                row, count = broadcasts.send(
                    session,
                    message,
                    chosen,
                    (send_at, now),
                    (settings.default_locale, settings.sms_price_per_segment),
                    audit.cli_actor(),
                    fallback,
                )
        except AudienceError as exc:
            fail(f"--audience: {exc}")
        except broadcasts.NotSent as exc:
            if exc.found is None:
                fail(f"--at: {exc}")
            missing = ", ".join(f"{loc} ({n})" for loc, n in sorted(exc.found.missing.items()))
            click.echo(f"loopline: no text for: {missing}; add them to {file} or use --fallback", err=True)
            sys.exit(1)  # the file needs work, not the command line
    click.echo(f"broadcast {row.id}: {count} messages queued for {send_at.isoformat()}")


@broadcast.command("status")
@click.argument("broadcast_id", type=RECORD_ID)
def status_command(broadcast_id: int) -> None:
    """Queued / sent / delivered / failed / skipped counts, with the reasons."""
    with command_runtime() as runtime, runtime.db.transaction() as session:
        found = broadcasts.status(session, broadcast_id)
    if not found["broadcast"]:
        fail(f"no broadcast {broadcast_id} (loopline broadcast send prints the id of each broadcast it sends)")
    click.echo(json.dumps(found, indent=2, sort_keys=True))
