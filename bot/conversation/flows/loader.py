"""Loading flow files: YAML in, validated Flow out, with a checksum that tells versions apart."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.conversation.flows.schema import Flow, FlowError, Place, flow_problems, parse_flow
from bot.i18n.negotiation import SUPPORTED_LOCALES

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
# libyaml's parser where PyYAML was built with it (ten times faster), the pure-Python one otherwise; both safe.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


MAX_FILE_BYTES = 1024 * 1024  # a content file is a few kilobytes; this is checked before anything is parsed
MAX_DEPTH = 32  # how deeply mappings and lists may nest (the deepest real file nests about eight levels)
MAX_NODES = 100_000  # values in a file, aliases expanded (a large poll has a few thousand)
# Keys whose values are names or words, never numbers or yes/no: under them a plain `1`, `010`, `1.50`, `yes` or
# `true` is the text as written (`1.50` no longer 1.5, `010` no longer 8), and an empty value stays empty (None). So are
# the texts under a language ("*", en, es...), the words of a choice, and every key (`1:` is the key "1").
TEXT_KEYS = frozenset(
    {"slug", "id", "value", "equals", "start", "next", "default", "save_as", "question", "field", "kind", "name"}
    | {"timezone", "fallback_language", "poll", "event", "words", "*", *SUPPORTED_LOCALES}
)
_NULL = "tag:yaml.org,2002:null"
_OPENS = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSES = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


class _StrictLoader(_SAFE_LOADER):  # type: ignore[valid-type,misc]
    """The safe loader, refusing a key given twice in one mapping (YAML would keep the last one silently) and a whole
    number beyond 64 bits (no column holds it: validate would say ok and load would fail); keys, and the values of
    TEXT_KEYS, are text as written."""

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value: int = super().construct_yaml_int(node)
        if not -(2**63) <= value < 2**63:
            raise _refused(f"the number {node.value} is beyond 64 bits", node.start_mark)
        return value

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:  # the mapping's own keys, before `<<: *other` merges others in
            key = self._as_text(key_node, deep)
            if not isinstance(key, Hashable):
                raise _refused("a key is a list or a mapping", key_node.start_mark)
            if key in seen:
                raise _refused(f"the key {key!r} is given twice", key_node.start_mark)
            seen.add(key)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._as_text(key_node, deep)
            mapping[key] = (
                self._as_text(value_node, deep) if key in TEXT_KEYS else self.construct_object(value_node, deep)
            )
        return mapping

    def _as_text(self, node: yaml.Node, deep: bool) -> Any:
        """A plain value as written (an empty one None); a list's values so; anything else as YAML builds it."""
        if isinstance(node, yaml.ScalarNode):
            return None if node.tag == _NULL else str(node.value)
        if isinstance(node, yaml.SequenceNode) and all(isinstance(item, yaml.ScalarNode) for item in node.value):
            return [self._as_text(item, deep) for item in node.value]
        return self.construct_object(node, deep=deep)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
# YAML 1.2's booleans: true and false only. In YAML 1.1 `value: yes` (or no, on, off, y, n) is a boolean, and an
# option whose value is "yes" became "True"; here they stay the words they are.
_BOOL = "tag:yaml.org,2002:bool"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != _BOOL]
    for first, resolvers in _SAFE_LOADER.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _refused(problem: str, mark: Any) -> yaml.MarkedYAMLError:
    """Why a file is refused, at the place in it where that shows (read_document says its line)."""
    return yaml.MarkedYAMLError(problem=problem, problem_mark=mark)


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
                raise _refused(f"the alias *{event.anchor} is inside what it names", event.start_mark)
            total += sizes.get(str(event.anchor), 1)
        elif isinstance(event, yaml.ScalarEvent):
            total += 1
            if event.anchor:
                sizes[event.anchor] = 1
        elif isinstance(event, _OPENS):
            total += 1
            open_collections.append((event.anchor, total))
            if len(open_collections) > MAX_DEPTH:
                raise _refused(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        elif isinstance(event, _CLOSES):
            anchor, opened = open_collections.pop()
            if anchor:
                sizes[anchor] = total - opened + 1
        if total > MAX_NODES:
            raise _refused(f"more than {MAX_NODES:,} values once its aliases are expanded", event.start_mark)


def parse_yaml(text: str) -> Any:
    """The one way a content file's YAML is decoded: its size, depth, expanded size and duplicate keys checked,
    then the safe loader (no Python objects)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise yaml.YAMLError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
    _check_shape(text)
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a safe loader)


class UnreadableFile(FlowError):
    """A content file that is not a YAML mapping within the limits; the line where its YAML goes wrong, if known."""

    def __init__(self, path: Path, problem: str, line: int | None = None) -> None:
        super().__init__(problem, subject=path.name + (f":{line}" if line else ""))
        self.line = line


def read_document(path: Path) -> dict[str, Any]:
    """Decode one YAML content file (a flow, poll, event or broadcast); errors name the file (and the line)."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise yaml.YAMLError(f"larger than {MAX_FILE_BYTES // 1024} KiB")
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.context_mark or exc.problem_mark  # where the unclosed thing opened, else where it went wrong
        problem = " ".join(f"{exc.context or ''} {exc.problem or ''}".split()) or "not YAML"
        raise UnreadableFile(
            path, f"cannot be read as YAML ({problem})", None if mark is None else mark.line + 1
        ) from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise UnreadableFile(path, f"cannot be read as YAML ({' '.join(str(exc).split())})") from exc
    if not isinstance(raw, dict):
        raise UnreadableFile(path, "a content file must hold a mapping", 1)
    return raw


def place_lines(text: str) -> Callable[[Place], int]:
    """Where in a file each place of its document starts: the line of a place (("questions", 2) is the third
    question, ("nodes", "ask", "text") the text of the node ask), or of the nearest place around it that the file
    has (a key not given is missing from its mapping's line); 1 for the whole document. The file is read once."""
    document = yaml.compose(text, Loader=_SAFE_LOADER)

    def line(place: Place) -> int:
        node: Any = document
        found = 1
        for step in place:
            if isinstance(node, yaml.MappingNode):
                pair = next((pair for pair in node.value if getattr(pair[0], "value", None) == str(step)), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
                pair = (node.value[step], node.value[step])
            else:
                pair = None
            if pair is None:
                break
            found, node = pair[0].start_mark.line + 1, pair[1]
        return found

    return line


def place_text(place: Place) -> str:
    """A place as staff read it: questions[3].options[1].value (lists counted from 1, as the messages count)."""
    text = ""
    for step in place:
        text += f"[{step + 1}]" if isinstance(step, int) else f".{step}" if text else str(step)
    return text


def load_file(path: Path) -> tuple[Flow, dict[str, Any]]:
    """The validated flow of a file and its decoded document; errors name the file and the node."""
    document = read_document(path)
    found = flow_problems(document)
    if found:
        raise FlowError(f"{path.name}: {found[0]}") from found[0]
    return parse_flow(document), document


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
