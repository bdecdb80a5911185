"""The HTTP access log without personal data: uvicorn's logging config for `serve`, every query value redacted."""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

REDACTED = "[redacted]"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,39}")


def redact(target: str) -> str:
    """A request target with its path kept and every query value redacted; a parameter's name is kept when it
    looks like one and has a value (a staff search for a phone number or feedback text never reaches a log)."""
    path, mark, query = target.partition("?")
    if not mark or not query:
        return target
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        shown = name if (equals and _NAME.fullmatch(name)) or not name else REDACTED
        parts.append(shown + (equals + REDACTED if equals else ""))
    return f"{path}?{'&'.join(parts)}"


class RedactQueries(logging.Filter):
    """Redacts the query values of every request target uvicorn logs: the access line's path, a WebSocket line's."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(arg) if isinstance(arg, str) and arg.startswith("/") else arg for arg in record.args
            )
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration, with RedactQueries on the loggers that name request targets."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {**config.get("filters", {}), "redact_queries": {"()": f"{__name__}.RedactQueries"}}
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = config["loggers"].setdefault(name, {})
        logger["filters"] = [*logger.get("filters", []), "redact_queries"]
    return config
