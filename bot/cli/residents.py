"""Resident data commands of the `loopline` CLI: export (right of access) and erase (right to erasure)."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy.orm import Session

from bot.cli.context import RECORD_ID, command_runtime
from bot.engagement.residents import privacy
from bot.staff import audit
from bot.store.models import Resident


def _chosen(resident_id: int | None, address: str | None) -> None:
    if (resident_id is None) == (address is None):
        click.echo("loopline: give --id or --address", err=True)
        sys.exit(2)


@click.group()
def residents() -> None:
    """A resident's data: export everything held about them, or erase it."""


def _resident(session: Session, resident_id: int | None, address: str | None) -> Resident:
    """The resident named by id or address, or the command stops (exit 1: there is no such resident)."""
    resident = privacy.find_resident(session, resident_id, address)
    if resident is None:
        click.echo("loopline: no such resident", err=True)
        sys.exit(1)
    return resident


@residents.command("export")
@click.option("--id", "resident_id", type=RECORD_ID, help="The resident's id (as the dashboard shows it).")
@click.option("--address", help="A phone number as they text from (+14155550123) or a Telegram chat id.")
def export_command(resident_id: int | None, address: str | None) -> None:
    """Print everything stored about a resident as JSON (a data-access request)."""
    _chosen(resident_id, address)
    with command_runtime() as runtime, runtime.db.transaction() as session:
        resident = _resident(session, resident_id, address)
        data = privacy.export(session, resident)
        audit.record(session, audit.cli_actor(), "resident.export", f"resident:{resident.id}", runtime.clock.now())
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@residents.command("erase")
@click.option("--id", "resident_id", type=RECORD_ID, help="The resident's id.")
@click.option("--address", help="A phone number or Telegram chat id of theirs.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase_command(resident_id: int | None, address: str | None, yes: bool) -> None:
    """Erase a resident: their messages, answers and addresses go; their input stays counted, text erased."""
    _chosen(resident_id, address)
    with command_runtime() as runtime:
        with runtime.db.transaction() as session:
            resident = _resident(session, resident_id, address)
            if not yes and not click.confirm(f"Erase resident #{resident.id} and their messages?"):
                sys.exit(1)
            erased_id = resident.id
            counts = privacy.erase(session, resident)
            audit.record(
                session, audit.cli_actor(), "resident.erase", f"resident:{erased_id}", runtime.clock.now(), **counts
            )
        runtime.purge_media()  # their stored files, now that the erasure is committed
    click.echo(f"erased resident #{erased_id}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
