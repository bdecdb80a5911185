"""Loading flow files: YAML in, validated Flow out, with a checksum that tells versions apart."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.conversation.flows.schema import Flow, FlowError, parse_flow

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
# libyaml's parser where PyYAML was built with it (ten times faster), the pure-Python one otherwise; both safe.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


MAX_FILE_BYTES = 1024 * 1024  # a content file is a few kilobytes; this is checked before anything is parsed
MAX_DEPTH = 32  # how deeply mappings and lists may nest (the deepest real file nests about eight levels)
MAX_NODES = 100_000  # values in a file, aliases expanded (a large poll has a few thousand)
_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class _StrictLoader(_SAFE_LOADER):  # type: ignore[valid-type,misc]
    """The safe loader, refusing a key given twice in one mapping (YAML would keep the last one silently) and a whole
    number beyond 64 bits (no column holds it: validate would say ok and load would fail)."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value: int = super().construct_yaml_int(node)
        if not -(2**63) <= value < 2**63:
            raise yaml.YAMLError(f"the number {node.value} is beyond 64 bits, {_where(node.start_mark)}")
        return value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the constructor below says so
                continue
            if duplicate:
                raise yaml.YAMLError(f"the key {key!r} is given twice, {_where(key_node.start_mark)}")
        return dict(super().construct_mapping(node, deep=deep))


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
# YAML 1.2's booleans: true and false only. In YAML 1.1 `value: yes` (or no, on, off, y, n) is a boolean, and an
# option whose value is "yes" became "True"; here they stay the words they are.
_BOOL = "tag:yaml.org,2002:bool"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL]
    for first, resolvers in _SAFE_LOADER.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


def _check_shape(text: str) -> None:
    """Refuse, from the parser's events and before anything is built, nesting deeper than MAX_DEPTH and more than
    MAX_NODES values once aliases are expanded: an alias (*name) may reuse a list, but a few hundred bytes of
    aliases of aliases (an "alias bomb") would expand into gigabytes, and an alias inside what it names (&a [*a])
    would never end."""
    total = 0  # values so far, aliases counted at their expanded size
    sizes: dict[str, int] = {}  # anchor -> its expanded size
    open_collections: list[tuple[str | None, int]] = []  # (anchor, total when it opened)
    for event in yaml.parse(text, Loader=_SAFE_LOADER):
        if isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _opened in open_collections):
                raise yaml.YAMLError(f"the alias *{event.anchor} is inside what it names, {_where(event.start_mark)}")
            total += sizes.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, _OPENS):
            total += 1
            open_collections.append((event.anchor, total))
            if len(open_collections) > MAX_DEPTH:
                raise yaml.YAMLError(f"nested more than {MAX_DEPTH} levels deep, {_where(event.start_mark)}")
        elif isinstance(event, _CLOSES):
            anchor, opened = open_collections.pop()
            if anchor:
                sizes[anchor] = total - opened + 1
        if total > MAX_NODES:
            raise yaml.YAMLError(
                f"more than {MAX_NODES:,} values once its aliases are expanded, {_where(event.start_mark)}"
            )


def parse_yaml(text: str) -> Any:
    """The one way a content file's YAML is decoded: its size, depth, expanded size and duplicate keys checked,
    then the safe loader (no Python objects)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise yaml.YAMLError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
    _check_shape(text)
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a safe loader)


def read_document(path: Path) -> dict[str, Any]:
    """Decode one YAML content file (a flow, poll, event or broadcast); errors name the file (and the line)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise yaml.YAMLError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.context_mark or exc.problem_mark  # where the unclosed thing opened, else where it went wrong
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = " ".join(f"{exc.context or ''} {exc.problem or ''}".split()) or "not YAML"
        raise FlowError(f"{path.name}{line}: cannot be read as YAML ({problem})") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise FlowError(f"{path.name}: cannot be read as YAML ({' '.join(str(exc).split())})") from exc
    if not isinstance(raw, dict):
        raise FlowError(f"{path.name}: a content file must hold a mapping")
    return raw


def line_of(text: str, place: tuple[str | int, ...]) -> int:
    """The line of a file where a place in its document starts (("questions", 2) is the third question; ("nodes",
    "ask") the node ask); the nearest enclosing place when that one is not there, line 1 for the whole file."""
    node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    line = 1
    for step in place:
        found = None
        if isinstance(node, yaml.MappingNode):
            found = next(
                ((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(step)), None
            )
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
            found = (node.value[step], node.value[step])
        if found is None:
            break
        line, node = found[0].start_mark.line + 1, found[1]
    return line


def load_file(path: Path) -> tuple[Flow, dict[str, Any]]:
    """The validated flow of a file and its decoded document; errors name the file and the node."""
    document = read_document(path)
    try:
        return parse_flow(document), document
    except FlowError as exc:
        raise FlowError(f"{path.name}: {exc}") from exc


def checksum(document: dict[str, Any]) -> str:
    """A stable fingerprint of a flow document, so that an unchanged file does not make a new version."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ShippedFlow:
    """A flow file that ships with Loopline: validated, with its document and checksum (shared: do not change)."""

    flow: Flow
    document: dict[str, Any]
    checksum: str


@functools.cache
def shipped_flows() -> tuple[ShippedFlow, ...]:
    """The shipped flow files, read and validated once per process (they do not change while it runs)."""
    shipped = []
    for path in sorted(DEFINITIONS_DIR.glob("*.yaml")):
        flow, document = load_file(path)
        shipped.append(ShippedFlow(flow, document, checksum(document)))
    return tuple(shipped)


def builtin_documents() -> dict[str, dict[str, Any]]:
    """The flows that ship with Loopline, by slug (a copy of each: callers may change theirs)."""
    return {shipped.flow.slug: copy.deepcopy(shipped.document) for shipped in shipped_flows()}
