"""One middleware sets, once per request, what everything behind it reads: the request id, the
deadline of its upstream calls and the record its log line is written from.

The request id is the caller's ``X-Request-Id`` when that is a sane token, else a fresh one; it
is kept in ``scope["state"]``, set on every log line (``jobgate.logs.request_id_var``) and sent
back on every ``/graphql`` answer.
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql import OperationType
from jobgate.logs import request_id_var
from jobgate.telemetry import Tracing, finish_request_span, request_span
from jobgate.upstream.resilience import read_back_reserve, request_deadline_var, write_deadline_var
from jobgate.web.observe import RequestRecord, finish

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
# Fresh request ids: a random prefix per process and a counter, unique without a syscall
# per request (uuid4 reads /dev/urandom every time).
_ID_PREFIX = os.urandom(6).hex()
_id_counter = itertools.count(1)

_current: ContextVar[RequestRecord | None] = ContextVar("jobgate_request", default=None)


def _request_id(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The first ``X-Request-Id`` header when it is a sane token, else a fresh id."""
    for name, value in headers:
        if name == b"x-request-id":
            supplied = value.decode("latin-1")
            if _REQUEST_ID.fullmatch(supplied):
                return supplied
            break
    return f"{_ID_PREFIX}-{next(_id_counter):x}"


def request_id_of(scope: Scope) -> str:
    """The request's id, as ``RequestScope`` set it (a fresh one for a scope it never saw)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    found = state.get("request_id")
    if not isinstance(found, str):
        found = state["request_id"] = _request_id(scope.get("headers", ()))
    return found


def note_operation(name: str | None, operation: OperationType | None) -> None:
    """Record the operation's name and type for the request's log line, once it is known."""
    record = _current.get()
    if record is not None and operation is not None:
        record.operation = name
        record.operation_type = operation.value


def note_codes(codes: Iterable[str]) -> None:
    """Record error codes the request was answered with (GraphQL errors, payload errors)."""
    record = _current.get()
    if record is not None:
        record.codes.update(codes)


class RequestScope:
    """ASGI middleware: the request id for every HTTP request; for ``/graphql`` also its
    deadline, its ``X-Request-Id`` answer header, and its log line and metric samples."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        timeout: float,
        path: str = "/graphql",
        tracing: Tracing | None = None,
    ) -> None:
        self.app = app
        self.tracing = tracing
        self.timeout = timeout
        self.read_back_reserve = read_back_reserve(timeout)
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        named = request_id_var.set(request_id)
        try:
            if scope["path"] != self.path:
                await self.app(scope, receive, send)
            elif self.tracing is None:
                await self._graphql(scope, receive, send, request_id)
            else:
                await self._traced(scope, receive, send, request_id, self.tracing)
        finally:
            request_id_var.reset(named)

    async def _traced(
        self, scope: Scope, receive: Receive, send: Send, request_id: str, tracing: Tracing
    ) -> None:
        """``_graphql`` inside the request's server span (jobgate.telemetry)."""
        with request_span(tracing, scope["method"], scope["path"], scope["headers"]) as span:
            record = await self._graphql(scope, receive, send, request_id)
            finish_request_span(
                span,
                status=record.status,
                request_id=request_id,
                operation=record.operation,
                operation_type=record.operation_type,
                codes=record.codes,
            )

    async def _graphql(
        self, scope: Scope, receive: Receive, send: Send, request_id: str
    ) -> RequestRecord:
        record = RequestRecord(scope["method"], request_id)
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = _current.set(record)
        # The request's deadlines (without a context manager's cost).
        now = time.monotonic()
        deadline = request_deadline_var.set(now + self.timeout)
        writes = write_deadline_var.set(now + self.timeout - self.read_back_reserve)
        try:
            await self.app(scope, receive, answer)
        finally:
            write_deadline_var.reset(writes)
            request_deadline_var.reset(deadline)
            _current.reset(token)
            finish(record)
        return record
