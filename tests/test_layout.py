"""The layout's rules hold (README, "Layout"): no import cycle in bot/, each layer imports only what lies below it,
no module over 400 lines, no function over 60 lines without a comment saying why."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
LONG_BECAUSE = "# Long because"

# What a package may not import (its own subpackages aside). Below: the value objects (messages, states, ids, clock,
# program) and i18n; then the pure conversation; the store; staff and the engagement capabilities; the pipeline;
# delivery; the web app; the CLI on top. Settings are read by the runtime, the web app and the CLI only.
ABOVE_STORE = ("bot.engagement", "bot.staff", "bot.pipeline", "bot.delivery", "bot.web", "bot.cli", "bot.runtime")
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "bot.messages": ("bot.",),
    "bot.states": ("bot.",),
    "bot.ids": ("bot.",),
    "bot.clock": ("bot.",),
    "bot.conversation": ("bot.store", "bot.channels", "bot.settings", *ABOVE_STORE),
    "bot.i18n": ("bot.store", "bot.channels", "bot.settings", *ABOVE_STORE),
    "bot.channels": ("bot.store", "bot.conversation", *ABOVE_STORE),
    "bot.store": ("bot.settings", *ABOVE_STORE),
    "bot.staff": ("bot.settings", "bot.pipeline", "bot.delivery", "bot.web", "bot.cli", "bot.runtime"),
    "bot.engagement": ("bot.settings", "bot.pipeline", "bot.delivery", "bot.web", "bot.cli", "bot.runtime"),
    "bot.pipeline": ("bot.delivery", "bot.web", "bot.cli", "bot.runtime"),
    "bot.delivery": ("bot.settings", "bot.web", "bot.cli", "bot.runtime"),
    # The files residents send: beside delivery (the store below it), built by the runtime, served by the web app.
    "bot.media": ("bot.settings", "bot.conversation", "bot.channels", *ABOVE_STORE),
    "bot.settings": ("bot.store", "bot.delivery", "bot.channels", "bot.conversation", *ABOVE_STORE),
    "bot.runtime": ("bot.web", "bot.cli"),
    "bot.web": ("bot.cli",),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in BOT.rglob("*.py"):
        name = ".".join(path.relative_to(BOT.parent).with_suffix("").parts).removesuffix(".__init__")
        found[name] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """Every bot module this one imports, anywhere in it (inside functions too), but not for type checking only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and ast.unparse(block.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for node in ast.walk(block)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names if alias.name.startswith("bot"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base == "bot" or base.startswith("bot."):
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    yield (full if full in modules else base), node.lineno


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {
            imported for imported, _line in _imports(name, path, modules) if imported in modules and imported != name
        }
        for name, path in modules.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in sorted(graph[node]):
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_bot() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_each_layer_imports_only_what_lies_below_it() -> None:
    modules = _modules()
    broken = []
    for name, path in sorted(modules.items()):
        rules = [
            (owner, banned) for owner, banned in FORBIDDEN.items() if name == owner or name.startswith(owner + ".")
        ]
        for owner, banned in rules:
            for imported, line in _imports(name, path, modules):
                if imported == owner or imported.startswith(owner + "."):
                    continue
                if any(imported == b or imported.startswith(b if b.endswith(".") else b + ".") for b in banned):
                    broken.append(f"{path.relative_to(BOT.parent)}:{line} imports {imported}")
    assert broken == []


def test_a_command_module_does_not_import_the_command_group_back() -> None:
    modules = _modules()
    back = [
        f"{path.relative_to(BOT.parent)}:{line}"
        for name, path in modules.items()
        if name.startswith("bot.cli.")
        for imported, line in _imports(name, path, modules)
        if imported == "bot.cli"
    ]
    assert back == []


def test_no_module_over_the_limit() -> None:
    lengths = {
        path.relative_to(BOT.parent): len(path.read_text(encoding="utf-8").splitlines()) for path in BOT.rglob("*.py")
    }
    assert {str(path): n for path, n in lengths.items() if n > MAX_MODULE_LINES} == {}


def test_a_long_function_says_why() -> None:
    long = []
    for path in BOT.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = lines[node.lineno - 1 : node.end_lineno]
                if len(body) > MAX_FUNCTION_LINES and not any(LONG_BECAUSE in line for line in body):
                    long.append(f"{path.relative_to(BOT.parent)}:{node.lineno} {node.name} ({len(body)} lines)")
    assert long == []
