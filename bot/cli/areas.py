"""Area commands of the `loopline` CLI: load the program's areas from a CSV, list them and what nobody matched, map a
spelling residents used to an area."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import func, select

from bot.cli.context import command_runtime, fail
from bot.engagement import areas as area_book
from bot.staff import audit
from bot.store.models import Resident
from bot.store.places import Area


@click.group()
def areas() -> None:
    """The program's areas: ZIP codes and neighbourhoods, named in each language (see README: Areas)."""


@areas.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(file: Path) -> None:
    """Store the areas of a CSV (code, zips, aliases, name_en, name_es…) and match every resident again."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot be read ({exc})")
    with command_runtime() as runtime:
        try:
            with runtime.db.transaction() as session:
                stored, placed = area_book.load_areas(
                    session, text, runtime.settings.default_locale, audit.cli_actor(), runtime.clock.now()
                )
        except area_book.AreaError as exc:
            click.echo(f"loopline: {file}: {exc}", err=True)
            sys.exit(1)  # the file needs work, not the command line
    click.echo(f"{stored} areas stored; {placed} residents are in one of them")


@areas.command("list")
def list_areas() -> None:
    """Every area with its residents, then what residents typed that matches no area (to map)."""
    with command_runtime() as runtime, runtime.db.transaction() as session:
        locale = runtime.settings.default_locale
        counts = dict(session.execute(select(Resident.area, func.count()).group_by(Resident.area)).all())
        for area in session.scalars(select(Area).order_by(Area.code)):
            name = area_book.display_name(area, locale)
            zips = " ".join((area.zips or {}).get("codes", []))
            click.echo(f"{area.code}\t{name}\t{zips}\t{counts.get(name, 0)} residents")
        for typed, count in area_book.unmatched(session):
            click.echo(f"unmatched\t{typed}\t\t{count} residents")


@areas.command("map")
@click.argument("spelling")
@click.argument("code")
def map_spelling(spelling: str, code: str) -> None:
    """Say once for everyone which area a spelling residents used means (e.g. "la mision" mission)."""
    with command_runtime() as runtime:
        try:
            with runtime.db.transaction() as session:
                moved = area_book.map_spelling(
                    session, spelling, code, runtime.settings.default_locale, audit.cli_actor(), runtime.clock.now()
                )
        except area_book.AreaError as exc:
            fail(str(exc))
    click.echo(f"{spelling!r} is now {code}: {moved} residents moved")
