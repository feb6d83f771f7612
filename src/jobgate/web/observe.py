"""What operators see of each GraphQL request: one JSON log line and its metric samples.

``RequestScope`` (scope.py) opens a ``RequestRecord`` per request to ``/graphql``; whatever
answers (the endpoint, an idempotent replay, an authentication refusal) notes the operation and
the error codes it answered with, and ``finish`` writes the line and the samples from it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from jobgate.metrics import labelled, metrics

log = logging.getLogger("jobgate.graphql")


@dataclass(slots=True)
class RequestRecord:
    """What is known about one GraphQL request by the time it is answered."""

    method: str
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    operation: str | None = None
    operation_type: str | None = None
    status: int | None = None  # None: no answer started (the app raised)
    codes: set[str] = field(default_factory=set)


def error_codes(errors: Iterable[Mapping[str, Any]]) -> set[str]:
    """The codes of formatted GraphQL errors; one without a code is a BAD_REQUEST."""
    codes: set[str] = set()
    for error in errors:
        extensions = error.get("extensions")
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.add(code if isinstance(code, str) else "BAD_REQUEST")
    return codes


def payload_codes(data: Any) -> set[str]:
    """The codes of mutation payload errors (``error``, and ``results[].error``) in ``data``."""
    codes: set[str] = set()
    for payload in data.values() if isinstance(data, dict) else ():
        if not isinstance(payload, dict):
            continue
        results = payload.get("results")
        for item in [payload, *(results if isinstance(results, list) else ())]:
            error = item.get("error") if isinstance(item, dict) else None
            if isinstance(error, dict) and isinstance(error.get("code"), str):
                codes.add(error["code"])
    return codes


def answered_codes(body: bytes) -> set[str]:
    """The codes in a GraphQL answer kept as bytes (an idempotent replay's)."""
    if b'"error' not in body:
        return set()
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return set()
    if not isinstance(parsed, dict):
        return set()
    errors = parsed.get("errors")
    listed = [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
    return error_codes(listed) | payload_codes(parsed.get("data"))


def finish(record: RequestRecord) -> None:
    """The request's log line and metric samples."""
    status = 500 if record.status is None else record.status
    codes = sorted(record.codes) if record.status is not None else ["INTERNAL"]
    outcome = "ok" if not codes and status < 400 else "error"
    took = time.perf_counter() - record.started
    found = metrics()
    operation = found.operation_label(record.operation)
    kind = record.operation_type or "unknown"
    labelled(found.graphql_requests, operation, kind, outcome).inc()
    labelled(found.graphql_duration, kind).observe(took)
    for code in codes:
        labelled(found.graphql_errors, operation, code).inc()
    level = logging.ERROR if status >= 500 else logging.INFO
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "graphql request",
        extra={
            "request_id": record.request_id,
            "method": record.method,
            "operation": record.operation,
            "operation_type": record.operation_type,
            "outcome": outcome,
            "codes": codes,
            "status": status,
            "duration_ms": round(took * 1000, 2),
        },
    )
