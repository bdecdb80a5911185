"""Logs carry no personal data: SQL errors show neither bound parameters nor the values PostgreSQL repeats, the
HTTP access log keeps paths and redacts query values, and no log call in bot/ is handed an address or a text."""

from __future__ import annotations

import ast
import copy
import io
import logging
import logging.config
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bot.runtime import Runtime
from bot.store.engagement import InputItem
from bot.store.models import Address, Resident
from bot.web import access_log

PHONE = "+14155550123"
DIGITS = "4155550123"
SECRET = "the clinic on 5th street turned my mother away"
BOT = Path(__file__).resolve().parents[1] / "bot"


def _resident(session: Session, runtime: Runtime) -> Resident:
    now = runtime.clock.now()
    resident = Resident(locale="en", consent="granted", fields={}, created_at=now, updated_at=now)
    session.add(resident)
    session.flush()
    return resident


def _address_twice(session: Session, runtime: Runtime) -> None:
    """A unique violation on (channel, value): PostgreSQL's DETAIL names the key's value."""
    now = runtime.clock.now()
    for _ in range(2):
        session.add(Address(resident_id=_resident(session, runtime).id, channel="sms", value=PHONE, created_at=now))
        session.flush()


def _item(session: Session, runtime: Runtime, **fields: Any) -> None:
    now = runtime.clock.now()
    values: dict[str, Any] = {"kind": "feedback", "channel": "sms", "locale": "en", "area": PHONE}
    values.update(fields)
    session.add(InputItem(ref=7001, text=SECRET, status="received", tags=[], created_at=now, updated_at=now, **values))
    session.flush()


def _orphan_item(session: Session, runtime: Runtime) -> None:
    """A foreign-key violation: the phone number and the text are bound parameters."""
    _item(session, runtime, resident_id=10**9)


def _item_without_channel(session: Session, runtime: Runtime) -> None:
    """A NOT NULL violation: PostgreSQL's DETAIL repeats the whole failing row."""
    _item(session, runtime, resident_id=_resident(session, runtime).id, channel=None)


def _cast(session: Session, runtime: Runtime) -> None:
    """A data error: PostgreSQL quotes the bad value in the message itself; SQLite gets a missing table."""
    table = " FROM no_such_table" if runtime.db.is_sqlite else ""
    session.execute(text(f"SELECT CAST(:phone AS INTEGER), :text{table}"), {"phone": PHONE, "text": SECRET})


FAILURES: dict[str, Callable[[Session, Runtime], None]] = {
    "unique": _address_twice,
    "foreign key": _orphan_item,
    "not null": _item_without_channel,
    "bad value": _cast,
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_sql_errors_show_no_phone_number_and_no_message_text(
    runtime: Runtime, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    with pytest.raises(DBAPIError) as raised, runtime.db.transaction() as session:
        FAILURES[failure](session, runtime)
    logging.getLogger("loopline.pipeline").exception("message 1 could not be handled", exc_info=raised.value)
    shown = "".join(traceback.format_exception(raised.value)) + caplog.text
    assert DIGITS not in shown and SECRET not in shown, shown
    assert "[SQL:" in shown  # still says which statement failed
    assert raised.value.orig is not None and type(raised.value.orig).__name__ in shown  # and how


@pytest.fixture
def serve_logs() -> Iterator[io.StringIO]:
    """The logging configuration `loopline serve` hands uvicorn, applied with its handlers writing to one buffer;
    uvicorn's loggers restored afterwards."""
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {
        name: (logger.handlers[:], logger.filters[:], logger.level, logger.propagate)
        for name in names
        for logger in [logging.getLogger(name)]
    }
    buffer = io.StringIO()
    config = copy.deepcopy(access_log.log_config())
    for handler in config["handlers"].values():
        handler["stream"] = buffer
    logging.config.dictConfig(config)
    yield buffer
    for name, (handlers, filters, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers, logger.filters, logger.level, logger.propagate = handlers, filters, level, propagate


def test_access_log_lines_keep_the_path_and_redact_query_values(serve_logs: io.StringIO) -> None:
    # Exactly what uvicorn's HTTP protocols log for each request, and its WebSocket line (on uvicorn.error).
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", f"/dashboard/inbox?q=%2B1{DIGITS}&page=2", "1.1", 200
    )
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "GET", f"/api/v1/residents?{DIGITS}&area=x", "1.1", 200
    )
    logging.getLogger("uvicorn.error").info('%s - "WebSocket %s" 403', "127.0.0.1:50000", f"/ws?text={SECRET}")
    lines = serve_logs.getvalue()
    assert DIGITS not in lines and "clinic" not in lines, lines
    assert '"GET /dashboard/inbox?q=[redacted]&page=[redacted] HTTP/1.1" 200' in lines
    assert "/api/v1/residents?[redacted]&area=[redacted]" in lines
    assert '"WebSocket /ws?text=[redacted]" 403' in lines


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/dashboard", "/dashboard"),
        ("/dashboard?", "/dashboard?"),
        ("/dashboard/inbox?q=+14155550123", "/dashboard/inbox?q=[redacted]"),
        ("/x?a=1&&b", "/x?a=[redacted]&&[redacted]"),
        ("/x?q=a=b;c", "/x?q=[redacted]"),
        ("/x?%2B14155550123=1", "/x?[redacted]=[redacted]"),
    ],
)
def test_redacted_targets(target: str, logged: str) -> None:
    assert access_log.redact(target) == logged


# What must never be handed to a log call: a resident's address or anything they wrote.
PERSONAL = {"address", "addresses", "phone", "number", "text", "body", "form", "inbound", "outbound", "answer"}
PERSONAL |= {"value", "values", "query", "query_string", "url", "params", "display_name", "area", "payload"}
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def _log_calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in ("log", "logger", "logging")
        ):
            yield node


def test_no_log_call_is_handed_an_address_or_a_text() -> None:
    found = []
    for path in sorted(BOT.rglob("*.py")):
        for call in _log_calls(ast.parse(path.read_text(encoding="utf-8"))):
            for argument in [*call.args, *(k.value for k in call.keywords)]:
                for node in ast.walk(argument):
                    name = (
                        node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
                    )
                    if name.lower() in PERSONAL:
                        found.append(f"{path.relative_to(BOT.parent)}:{call.lineno}: {name}")
    assert not found, "log calls carrying personal data:\n" + "\n".join(found)
