"""Everything public is documented: each setting the code reads and each command appear in the README."""

from __future__ import annotations

import re
from pathlib import Path

import click

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_the_code_reads_is_in_the_readme() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "bot").rglob("*.py"))
    variables = set(re.findall(r"LOOPLINE_[A-Z0-9_]+", code)) - {"LOOPLINE_"}
    assert variables, "no settings found: the pattern is wrong"
    missing = sorted(v for v in variables if f"`{v}`" not in README)
    assert missing == [], f"settings not documented in README.md: {missing}"


def _commands(group: click.Group, prefix: str = "loopline") -> list[str]:
    found = []
    for name, command in group.commands.items():
        found.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{prefix} {name}"))
    return found


def test_every_command_is_in_the_readme() -> None:
    commands = _commands(main)
    assert "loopline serve" in commands
    missing = [c for c in commands if c not in README and not _listed_as_alternative(c)]
    assert missing == [], f"commands not documented in README.md: {missing}"


def _listed_as_alternative(command: str) -> bool:
    """`loopline polls list | open SLUG | close SLUG` documents three subcommands at once."""
    group, _, sub = command.rpartition(" ")
    return bool(re.search(re.escape(group) + r" [^`\n]*\|\s*" + re.escape(sub) + r"\b", README)) or bool(
        re.search(re.escape(command) + r" \|", README)
    )
