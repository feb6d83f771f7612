"""What operators see: one JSON log line and metric samples per GraphQL request, the request's
deadline for upstream calls, and the ``/readyz`` and ``/metrics`` endpoints.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql import OperationType
from jobgate.metrics import CONTENT_TYPE, exposition, labelled, metrics
from jobgate.upstream.channel import UpstreamHTTP
from jobgate.upstream.resilience import (
    CircuitBreaker,
    CircuitState,
    SourceHealth,
    read_back_reserve,
    request_deadline_var,
    source_health,
    write_deadline_var,
)

log = logging.getLogger("jobgate.graphql")

Breakers = Mapping[str, Sequence[CircuitBreaker]]


@dataclass(slots=True)
class RequestRecord:
    """What is known about one GraphQL request by the time it is answered."""

    method: str
    started: float = field(default_factory=time.perf_counter)
    operation: str | None = None
    operation_type: str | None = None
    status: int | None = None  # None: no answer started (the app raised)
    request_id: str | None = None
    # The answer's body as sent, chunk by chunk (references to them, not a copy).
    chunks: list[bytes] = field(default_factory=list)
    kept: int = 0  # bytes in ``chunks``

    def body(self) -> bytes:
        chunks = self.chunks
        if len(chunks) == 1 and type(chunks[0]) is bytes:
            return chunks[0]  # the usual answer: one message
        return b"".join(chunks)


_current: ContextVar[RequestRecord | None] = ContextVar("jobgate_request", default=None)
# Error codes are read from the answer; past this size it is not kept (the line still is).
MAX_BODY_KEPT = 1_000_000


class GraphQLRequestLog:
    """ASGI middleware: one log line and metric samples per request to ``/graphql``, whoever
    answers it (the endpoint, an idempotent replay, an authentication refusal), and a deadline
    for the upstream calls it makes."""

    def __init__(self, app: ASGIApp, *, timeout: float, path: str = "/graphql") -> None:
        self.app = app
        self.timeout = timeout
        self.read_back_reserve = read_back_reserve(timeout)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        record = RequestRecord(scope["method"])

        async def capture(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.body":
                if record.kept < MAX_BODY_KEPT:
                    chunk = message.get("body", b"")
                    record.chunks.append(chunk)
                    record.kept += len(chunk)
            elif kind == "http.response.start":
                record.status = message["status"]
                for name, value in message.get("headers", ()):
                    if name.lower() == b"x-request-id":
                        record.request_id = value.decode("latin-1")
            await send(message)

        token = _current.set(record)
        # The request's deadline (as request_deadline() sets it, without a generator's cost).
        now = time.monotonic()
        deadline = request_deadline_var.set(now + self.timeout)
        writes = write_deadline_var.set(now + self.timeout - self.read_back_reserve)
        try:
            await self.app(scope, receive, capture)
        finally:
            write_deadline_var.reset(writes)
            request_deadline_var.reset(deadline)
            _current.reset(token)
            _finish(record)


def note_operation(name: str | None, operation: OperationType | None) -> None:
    """Record the operation's name and type for the request's log line, once it is known."""
    record = _current.get()
    if record is not None and operation is not None:
        record.operation = name
        record.operation_type = operation.value


def answered_codes(body: bytes) -> list[str]:
    """The error codes in a GraphQL answer: GraphQL errors and mutation payload errors."""
    if b'"error' not in body:
        return []
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(parsed, dict):
        return []
    codes: set[str] = set()
    for error in parsed.get("errors") or ():
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.add(code if isinstance(code, str) else "BAD_REQUEST")
    data = parsed.get("data")
    for payload in data.values() if isinstance(data, dict) else ():
        if not isinstance(payload, dict):
            continue
        results = payload.get("results")
        for item in [payload, *(results if isinstance(results, list) else ())]:
            error = item.get("error") if isinstance(item, dict) else None
            if isinstance(error, dict) and isinstance(error.get("code"), str):
                codes.add(error["code"])
    return sorted(codes)


def _finish(record: RequestRecord) -> None:
    status = 500 if record.status is None else record.status
    codes = answered_codes(record.body()) if record.status is not None else ["INTERNAL"]
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


def sources_health(breakers: Breakers, names: Sequence[str]) -> list[SourceHealth]:
    return [source_health(name, breakers.get(name, ())) for name in names]


def _health_json(health: SourceHealth, provider: str) -> dict[str, Any]:
    return {
        "name": health.name,
        "provider": provider,
        "reached": health.reached,
        "circuit": health.state.value,
        "retryInSeconds": round(health.retry_in, 1),
    }


async def readyz(request: Request) -> JSONResponse:
    """200 when every source has answered usably and none has its circuit open; else 503
    naming the sources whose circuit is open and those nothing has reached yet."""
    state = request.app.state
    breakers: Breakers | None = getattr(state, "breakers", None)
    if breakers is None:  # the lifespan has not built the sources yet
        return JSONResponse({"status": "starting"}, status_code=503)
    sources = state.settings.sources
    health = sources_health(breakers, list(sources))
    listed = [_health_json(h, sources[h.name].provider.key) for h in health]
    opened = [h.name for h in health if h.state is CircuitState.OPEN]
    unreached = [h.name for h in health if not h.reached]
    if opened or unreached:
        body = {"status": "unavailable", "open": opened, "unreached": unreached, "sources": listed}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "sources": listed})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format; circuit gauges are brought up to date first (open → half-open)."""
    breakers: Breakers = getattr(request.app.state, "breakers", {})
    for health in sources_health(breakers, list(breakers)):
        metrics().circuit_state.labels(health.name).set(health.state.level)
    return Response(exposition(), media_type=CONTENT_TYPE)


def breakers_by_source(channels: Sequence[UpstreamHTTP]) -> dict[str, list[CircuitBreaker]]:
    """Group the channels' breakers by source (a source may have more than one channel)."""
    grouped: dict[str, list[CircuitBreaker]] = {}
    for channel in channels:
        grouped.setdefault(channel.source, []).append(channel.breaker)
    return grouped
