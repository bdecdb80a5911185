"""Loading flow files: YAML in, validated Flow out, with a checksum that tells versions apart."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.conversation.flows.schema import Flow, FlowError, parse_flow

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
# libyaml's parser where PyYAML was built with it (ten times faster), the pure-Python one otherwise; both safe.
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """Decode YAML with the safe loader (no Python objects)."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)


def read_document(path: Path) -> dict[str, Any]:
    """Decode one YAML flow file; errors name the file."""
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise FlowError(f"{path.name}: cannot be read as YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise FlowError(f"{path.name}: a flow file must hold a mapping")
    return raw


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
