"""A Babel extractor for flow files: the bot's own words in YAML flows become gettext messages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from bot.conversation.flows.loader import parse_yaml
from bot.conversation.flows.schema import FlowError, parse_flow


def flow_messages(document: Any) -> list[str]:
    """Every gettext message id of a flow document: plain-string texts and choice labels, in node order."""
    flow = parse_flow(document)
    found: list[str] = []
    for node in flow.nodes.values():
        texts = [node.text, node.until_language_known] + [choice.label for choice in node.choices]
        found.extend(t for t in texts if isinstance(t, str) and t not in found)
    return found


def extract_flow(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Babel extraction method (see locales/babel.cfg)."""
    document = parse_yaml(fileobj.read().decode("utf-8"))
    try:
        messages = flow_messages(document)
    except FlowError:
        return
    for message in messages:
        yield 0, None, message, ["flow text"]
