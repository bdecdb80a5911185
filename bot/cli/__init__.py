"""The `loopline` command line: one group whose commands live one module per theme and are imported only when
used (`loopline migrate` does not load the web server)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import ItemsView, Iterator, Sequence, ValuesView
from typing import Any

import click

# Command name -> "module:attribute" under bot.cli.
COMMANDS = {
    "serve": "processes:serve",
    "worker": "processes:worker",
    "migrate": "local:migrate",
    "chat": "local:chat",
    "flows": "content:flows",
    "polls": "content:polls",
    "results": "content:results",
    "demo": "content:demo",
    "broadcast": "broadcasts:broadcast",
    "users": "users:users",
    "residents": "residents:residents",
    "areas": "areas:areas",
    "baseline": "areas:baseline",
    "representation": "areas:show_representation",
}


class LazyCommands(dict[str, Any]):
    """The group's commands by name, each imported from its module the first time it is asked for."""

    def __init__(self, where: dict[str, str]) -> None:
        super().__init__(dict.fromkeys(where))
        self.where = where

    def __getitem__(self, name: str) -> click.Command:
        command = super().__getitem__(name)
        if command is None:
            module, _, attribute = self.where[name].partition(":")
            command = getattr(importlib.import_module(f"bot.cli.{module}"), attribute)
            super().__setitem__(name, command)
        return command  # type: ignore[no-any-return]

    def get(self, name: str, default: Any = None) -> Any:
        """The command, or the default when there is none of that name."""
        if name not in self:
            return default
        return self[name]

    def values(self) -> ValuesView[Any]:  # type: ignore[override]
        """Every command (imports them all)."""
        return {name: self[name] for name in self}.values()

    def items(self) -> ItemsView[str, Any]:  # type: ignore[override]
        """Every (name, command) (imports them all)."""
        return {name: self[name] for name in self}.items()

    def __iter__(self) -> Iterator[str]:
        return iter(list(super().keys()))


class Loopline(click.Group):
    """The group, whose usage errors (an unknown command, a bad value) are one line on stderr and exit status 2."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run a command line; with standalone_mode (the default) exit with its status, as click does."""
        standalone = standalone_mode
        try:
            outcome = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            if not standalone:
                raise
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            click.echo(f"loopline: {exc.format_message()}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            if not standalone:
                raise
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            if not standalone:
                raise
            click.echo("Aborted!", err=True)
            sys.exit(1)
        if not standalone:
            return outcome
        sys.exit(outcome if isinstance(outcome, int) else 0)


@click.group(cls=Loopline, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="loopline", message="loopline %(version)s")
def main() -> None:
    """Loopline: a multilingual SMS and Telegram gateway for two-way community engagement."""


main.commands = LazyCommands(COMMANDS)
