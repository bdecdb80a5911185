"""Loading flow files: YAML in, validated Flow out, with a checksum that tells versions apart."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from bot.conversation.flows.schema import Flow, FlowError, parse_flow

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"


def read_document(path: Path) -> dict[str, Any]:
    """Decode one YAML flow file; errors name the file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def builtin_documents() -> dict[str, dict[str, Any]]:
    """The flows that ship with Loopline, by slug."""
    documents = {}
    for path in sorted(DEFINITIONS_DIR.glob("*.yaml")):
        flow, document = load_file(path)
        documents[flow.slug] = document
    return documents
