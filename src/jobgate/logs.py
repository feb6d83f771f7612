"""Structured JSON log lines, and the request id that ties a request's lines together."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import orjson

from jobgate.redaction import secrets
from jobgate.telemetry import log_fields

request_id_var: ContextVar[str | None] = ContextVar("jobgate_request_id", default=None)

# LogRecord attributes that are not extra fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    # The last whole second formatted and its text (one tuple: threads may format at once).
    _stamped: tuple[int, str] = (-1, "")

    def _time(self, record: logging.LogRecord) -> str:
        """``formatTime(record, "%Y-%m-%dT%H:%M:%S")``, made once a second, not once a line."""
        second = int(record.created)
        stamped = self._stamped
        if stamped[0] != second:
            stamped = self._stamped = (second, self.formatTime(record, "%Y-%m-%dT%H:%M:%S"))
        return stamped[1]

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id is not None:
            line["request_id"] = request_id
        traced = log_fields()
        if traced is not None:
            line.update(traced)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # An upstream's words in a log line may quote a credential: none is written.
        return secrets().text(orjson.dumps(line, default=str).decode())


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO with the full URL; our own upstream lines replace it.
    logging.getLogger("httpx").setLevel(logging.WARNING)
