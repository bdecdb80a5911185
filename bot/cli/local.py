"""Commands on this machine's database: `migrate`, and `chat` with the bot in the terminal as a resident."""

from __future__ import annotations

import getpass
import re
import secrets
import sys
from collections.abc import Iterator

import click

from bot.channels import simulator
from bot.channels.base import InvalidInbound
from bot.cli.context import command_runtime, fail


@click.command()
def migrate() -> None:
    """Bring the database schema to the latest version (run once per deployment)."""
    with command_runtime(migrate=True):
        click.echo("Database is at the latest schema.")


def _lines(interactive: bool) -> Iterator[str]:
    """What the resident types: read with line editing at a terminal, else line by line from the input."""
    if not interactive:
        yield from (line.rstrip("\n") for line in sys.stdin)
        return
    while True:
        try:
            yield input("you> ")
        except EOFError:
            click.echo()
            return


@click.command()
@click.option("--as", "handle", default=None, help="Simulated resident handle (default: cli-USER).")
@click.option("--language", default=None, help="A language hint, as Telegram would give (e.g. es, zh-hans).")
def chat(handle: str | None, language: str | None) -> None:
    """Talk to the bot in the terminal as a simulated resident, through the real pipeline."""
    user = re.sub(r"[^A-Za-z0-9_.-]", "", getpass.getuser())[:30] or "resident"
    handle = handle or f"cli-{user}"
    interactive = sys.stdin.isatty()
    with command_runtime() as runtime:
        if interactive:
            import readline  # noqa: F401, PLC0415  # line editing and history for input(), in a terminal only

            click.echo(f"You are {handle}. Type a message; Ctrl-D to leave.")
        for text in _lines(interactive):
            if interactive and not text:
                continue
            try:
                inbound = simulator.parse(handle, text, f"cli-{secrets.token_hex(12)}", runtime.clock.now(), language)
            except InvalidInbound as exc:
                fail(str(exc))
            for outbound in runtime.pipeline.handle(inbound, reply_inline=True).immediate:
                click.echo(f"bot> {outbound.text}")
