"""Log lines as JSON objects or plain text, each carrying the id of the request it was written for."""

from __future__ import annotations

import logging
import re
import secrets
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import orjson

# Set by the Observe middleware for the length of a request; worker threads inherit it (anyio copies the context).
request_id: ContextVar[str | None] = ContextVar("parlour_request_id", default=None)
# What we accept from a proxy: short, and nothing that could forge a log line or a header.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
HANDLER_NAME = "parlour"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# Attributes every LogRecord has; any other attribute came from `extra=` and goes into the JSON object.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


def new_request_id() -> str:
    """32 hex digits, the shape of nginx's $request_id."""
    return secrets.token_hex(16)


def accepted_request_id(given: str | None, *, from_trusted_proxy: bool) -> str:
    """A trusted proxy's well-formed X-Request-ID, or a new id: clients cannot choose what our logs say."""
    if from_trusted_proxy and given and VALID_REQUEST_ID.fullmatch(given):
        return given
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Stamps every record with the current request's id ('-' outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, any extras, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id.get() or "-",
        }
        entry.update((key, value) for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


def make_handler(fmt: str) -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    return handler


def configure_logging(*, level: str, fmt: str) -> None:
    """One stderr handler on the root logger, in the chosen format; calling it again replaces it."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
    root.addHandler(make_handler(fmt))
    root.setLevel(level.upper())
