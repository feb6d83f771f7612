"""Live operations over the wire: what both transports share, and GraphQL over SSE.

``Live.results`` runs one operation for a live transport: a query or mutation gives one result,
a subscription a stream. SSE ("distinct connections" mode of GraphQL over Server-Sent Events): a
request to ``/graphql`` whose ``Accept`` is ``text/event-stream`` is answered by ``next`` events
and one ``complete``; it passes the same authentication, CSRF and scope checks as any request.
The WebSocket transport is ``sockets``. Both count against one limit of live connections per
client, and a stop signal completes every stream before the server shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from graphql import ExecutionResult, GraphQLError
from graphql import OperationType as Operation
from jobgate.config import ServerSettings
from jobgate.domain.principal import ANONYMOUS, READ, WRITE, Principal
from jobgate.graphql.context import Context
from jobgate.graphql.execution import Executor
from jobgate.graphql.limits import inspect_operation
from jobgate.redaction import secrets
from jobgate.watch import Watcher
from jobgate.web.auth import Authenticator

log = logging.getLogger("jobgate.live")

SSE = "text/event-stream"
KEEP_ALIVE = 15.0  # seconds between SSE comments that keep proxies from closing the stream
Format = Callable[[ExecutionResult, str], dict[str, Any]]
MakeContext = Callable[[Any, Principal, str], Context]  # (the app's state, caller, request id)


class GoingAway(Protocol):
    async def going_away(self) -> None: ...


class Refused(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code

    def errors(self) -> list[dict[str, Any]]:
        return [{"message": str(self), "extensions": {"code": self.code}}]


@dataclass
class LiveLimits:
    """Live connections open per client (a principal, or an address when anonymous)."""

    per_client: int
    open: Counter[str] = field(default_factory=Counter)

    @contextlib.contextmanager
    def connection(self, client: str) -> Iterator[None]:
        if self.open[client] >= self.per_client:
            raise Refused(f"At most {self.per_client} live connections per client.", "RATE_LIMITED")
        self.open[client] += 1
        try:
            yield
        finally:
            self.open[client] -= 1
            if not self.open[client]:
                del self.open[client]


def wants_events(received: Mapping[bytes, bytes]) -> bool:
    """Whether the request asks for Server-Sent Events (``Accept: text/event-stream``)."""
    return b"text/event-stream" in received.get(b"accept", b"")


def client_of(principal: Principal, address: str | None) -> str:
    if principal is not ANONYMOUS:
        return f"principal:{principal.authority}"
    return f"address:{address or '?'}"


@dataclass
class Live:
    executor: Executor
    server: ServerSettings
    authenticator: Authenticator
    make_context: MakeContext
    format_result: Format
    limits: LiveLimits
    sockets: set[GoingAway] = field(default_factory=set)  # open WebSockets (``sockets``)

    async def close_sockets(self) -> None:
        """Shutting down: each socket's operations complete, then it closes with 1001."""
        await asyncio.gather(*(c.going_away() for c in list(self.sockets)))

    # -- operations, either transport ---------------------------------------------------------

    async def results(
        self,
        params: tuple[str, dict[str, Any] | None, str | None],
        principal: Principal,
        request_id: str,
        state: Any,
    ) -> AsyncIterator[dict[str, Any]]:
        """Each result of one operation, formatted: one for a query or mutation, a stream for a
        subscription. ``Refused`` before anything runs."""
        query, variables, operation_name = params
        prepared = self.executor.prepare(query)
        inspection = inspect_operation(
            prepared.document, operation_name, long_number=prepared.long_number
        )
        if prepared.errors:
            raise Refused(prepared.errors[0].message, "GRAPHQL_VALIDATION_FAILED")
        if inspection.problem is not None or inspection.operation is None:
            raise Refused(inspection.problem or "No operation to run.", "BAD_REQUEST")
        needed = WRITE if inspection.operation is Operation.MUTATION else READ
        if not principal.can(needed):
            raise Refused(f"This operation needs the {needed} scope.", "FORBIDDEN")
        context = self.make_context(state, principal, request_id)
        if inspection.operation is not Operation.SUBSCRIPTION:
            result = await self.executor.execute(
                query,
                variables=variables,
                context=context,
                operation_name=operation_name,
                prepared=prepared,
            )
            yield self.format_result(result, request_id)
            return
        stream = await self.executor.subscribe(
            prepared, variables=variables, context=context, operation_name=operation_name
        )
        if isinstance(stream, ExecutionResult):
            yield self.format_result(stream, request_id)
            return
        try:
            async for result in stream:
                yield self.format_result(result, request_id)
        except GraphQLError as error:  # the resolver refused (before or between events)
            yield self.format_result(ExecutionResult(None, [error]), request_id)
        except Exception as unexpected:  # masked as INTERNAL, logged with its traceback
            wrapped = GraphQLError(str(unexpected), original_error=unexpected)
            yield self.format_result(ExecutionResult(None, [wrapped]), request_id)
        finally:
            closing = getattr(stream, "aclose", None)
            if closing is not None:
                await closing()

    # -- Server-Sent Events -------------------------------------------------------------------

    async def sse_events(
        self,
        params: tuple[str, dict[str, Any] | None, str | None],
        principal: Principal,
        request_id: str,
        state: Any,
        client: str,
    ) -> AsyncIterator[bytes]:
        """The body of a ``text/event-stream`` answer: ``next`` events, then ``complete``."""
        try:
            with self.limits.connection(client):
                results = self.results(params, principal, request_id, state)
                async for payload in _with_keep_alive(results, KEEP_ALIVE):
                    yield b":\n\n" if payload is None else _event(b"next", payload)
        except Refused as refused:
            yield _event(b"next", {"errors": refused.errors()})
        yield b"event: complete\ndata:\n\n"


def _event(name: bytes, payload: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + secrets().bytes(orjson.dumps(payload)) + b"\n\n"


async def _with_keep_alive(
    source: AsyncIterator[dict[str, Any]], every: float
) -> AsyncIterator[dict[str, Any] | None]:
    """``source``'s items, and None whenever ``every`` seconds pass without one."""
    iterator = aiter(source)
    pending: asyncio.Task[dict[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(BaseException):
                await pending
        closing = getattr(iterator, "aclose", None)
        if closing is not None:
            await closing()


@contextlib.contextmanager
def end_streams_on_signal(watcher: Watcher, live: Live) -> Iterator[None]:
    """Under uvicorn, a stop signal first ends every live stream (their clients get
    ``complete``), then reaches uvicorn's own handler, whose shutdown would otherwise wait for
    streams that never end by themselves. Elsewhere (tests, another server) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    wrapped: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        owner = getattr(previous, "__self__", None)
        if callable(previous) and type(owner).__module__.startswith("uvicorn"):
            wrapped[sig] = previous

            def handler(number: int, frame: Any, previous: Any = previous) -> None:
                loop.call_soon_threadsafe(_stop_streams, watcher, live)
                previous(number, frame)

            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous in wrapped.items():
            signal.signal(sig, previous)


def _stop_streams(watcher: Watcher, live: Live) -> None:
    watcher.end_streams()
    closing = asyncio.ensure_future(live.close_sockets())
    _stopping.add(closing)
    closing.add_done_callback(_stopping.discard)


_stopping: set[asyncio.Future[None]] = set()
