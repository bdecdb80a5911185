"""Who is heard, from the `loopline` CLI: the program's areas (load, list, map a spelling), the population baseline,
and the representation report."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click
from sqlalchemy import func, select

from bot.cli.context import command_runtime, fail
from bot.engagement import areas as area_book
from bot.engagement import representation
from bot.staff import audit
from bot.staff.spreadsheet import csv_text
from bot.store.engagement import Poll
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


@click.group()
def baseline() -> None:
    """The population residents are compared with (see README: Who is heard)."""


@baseline.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_baseline(file: Path) -> None:
    """Replace the baseline with a CSV: dimension, group, population, and optionally area and source."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{file}: cannot be read ({exc})")
    with command_runtime() as runtime:
        try:
            with runtime.db.transaction() as session:
                stored = representation.load_baseline(
                    session, text, runtime.settings.default_locale, audit.cli_actor(), runtime.clock.now()
                )
        except representation.BaselineError as exc:
            click.echo(f"loopline: {file}: {exc}", err=True)
            sys.exit(1)  # the file needs work, not the command line
    click.echo(f"baseline: {stored} counts stored")


@click.command("representation")
@click.argument("slug", required=False)
@click.option("--format", "shape", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def show_representation(slug: str | None, shape: str) -> None:
    """Who answered a poll (or takes part, without SLUG) against the population: shares, ratios, flagged groups."""
    with command_runtime() as runtime, runtime.db.transaction() as session:
        poll = None
        if slug is not None:
            poll = session.scalars(select(Poll).where(Poll.slug == slug)).first()
            if poll is None:
                fail(f"no poll {slug!r} (loopline polls list shows them)")
        found = representation.report(session, poll)
    rows = [
        [d.dimension, g.group, g.respondents, round(g.share, 4), _maybe(g.population_share), _maybe(g.ratio), g.flagged]
        for d in found.dimensions
        for g in d.groups
    ]
    if shape == "json":
        click.echo(json.dumps(dataclasses.asdict(found), ensure_ascii=False, indent=2))
    elif shape == "csv":
        click.echo(csv_text(REPORT_HEADER, rows), nl=False)
    else:
        click.echo(f"{found.respondents} respondents; baseline: {', '.join(found.sources) or 'none loaded'}")
        for d in found.dimensions:
            score = f"{d.score:.2f}" if d.score is not None else "no baseline"
            click.echo(f"{d.dimension} (score {score})")
            for g in d.groups:
                against = f"{g.population_share:.0%} of the population" if g.population_share is not None else "-"
                mark = "  UNDER-REPRESENTED" if g.flagged else ""
                click.echo(f"  {g.group}: {g.respondents} ({g.share:.0%}) vs {against}{mark}")


REPORT_HEADER = ("dimension", "group", "respondents", "share", "population_share", "ratio", "flagged")


def _maybe(value: float | None) -> float | str:
    return "" if value is None else round(value, 4)
