"""The server's logs: the one place that configures them, and the fields a record carries.

Every package logs through the standard library under its own name (``tocsin.intake``,
``tocsin.engine``, ``tocsin.notify`` ...). A record's facts go in ``extra=fields(...)``:
readable text shows them as ``key=value`` after the message; JSON lines (one object a line,
for a log shipper) give each its own key beside ``time``, ``level``, ``logger`` and
``message``. Values are the record's facts, never secrets or whole payloads: the caller
chooses them, and text quotes every value that is not a plain word, so that a label with
a newline or a terminal escape in it cannot forge a line.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error", "critical")
FIELDS = "tocsin_fields"  # the record attribute that holds a record's fields
_PLAIN = re.compile(r"^[\w.:/@+-]+$")  # a value written without quotes in text


def fields(**values: Any) -> dict[str, Any]:
    """``extra=`` for a log call: the record's facts, by name."""
    return {FIELDS: values}


def _facts(record: logging.LogRecord) -> Mapping[str, Any]:
    found = getattr(record, FIELDS, None)
    return found if isinstance(found, Mapping) else {}


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    if isinstance(value, str) and not _PLAIN.match(value):
        return orjson.dumps(value).decode()  # quoted, control characters escaped
    return text


class TextFormatter(logging.Formatter):
    """``2026-12-05T10:58:40.123Z INFO tocsin.notify: delivered incident=3 channel=team``."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        line = f"{when}.{int(record.msecs):03d}Z {record.levelname} {record.name}: "
        line += record.getMessage()
        facts = " ".join(f"{k}={_text_value(v)}" for k, v in _facts(record).items())
        if facts:
            line += " " + facts
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    the record's fields, and ``exception`` where there is one."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _facts(record).items():
            out.setdefault(key, value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


_configured = {"format": "text"}


def current_format() -> str:
    """The format ``configure`` set last (a process started from this one logs alike)."""
    return _configured["format"]


def configure(level: str = "info", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every logger's records to ``stream`` (stderr) at ``level`` and above, as text or
    JSON lines. Replaces what was configured before (uvicorn's loggers are left to
    propagate here)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    _configured["format"] = fmt
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
