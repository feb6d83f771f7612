"""Subscriptions over the wire: ``graphql-transport-ws`` on ``/graphql`` and GraphQL over SSE.

WebSocket (the graphql-ws library's protocol): the client sends ``connection_init`` within
``CONNECTION_INIT_WAIT`` seconds, with its credential in the payload (``{"Authorization":
"Bearer …"}`` or ``{"x-api-key": "…"}``; the upgrade request's own headers count too), and may
then run operations by id (``subscribe``/``next``/``error``/``complete``). SSE ("distinct
connections" mode of the GraphQL-over-SSE protocol): a GraphQL request whose ``Accept`` is
``text/event-stream`` is answered by ``next`` events and one ``complete``; it passes the same
authentication and CSRF checks as any request to ``/graphql``.

Both count against one limit of live connections per client, and an operation against
``max_subscriptions_per_connection``. When the gateway stops, every stream completes.
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
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from graphql import ExecutionResult
from graphql import OperationType as Operation
from jobgate.config import ServerSettings
from jobgate.domain.principal import ANONYMOUS, READ, WRITE, Principal
from jobgate.graphql.context import Context
from jobgate.graphql.execution import Executor
from jobgate.graphql.limits import inspect_operation
from jobgate.redaction import secrets
from jobgate.watch import Watcher
from jobgate.web.auth import Authenticator, AuthError

log = logging.getLogger("jobgate.live")

PROTOCOL = "graphql-transport-ws"
SSE = "text/event-stream"
CONNECTION_INIT_WAIT = 3.0
KEEP_ALIVE = 15.0  # seconds between SSE comments that keep proxies from closing the stream
Format = Callable[[ExecutionResult, str], dict[str, Any]]
MakeContext = Callable[[Any, Principal, str], Context]  # (the app's state, caller, request id)


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

    # -- graphql-transport-ws -----------------------------------------------------------------

    async def websocket(self, socket: WebSocket) -> None:
        if PROTOCOL not in socket.scope.get("subprotocols", ()):
            await socket.close(code=4406, reason="Subprotocol not acceptable")
            return
        await socket.accept(subprotocol=PROTOCOL)
        try:
            principal = await self._connection_init(socket)
        except Refused as refused:
            await _close(socket, 4403 if refused.code != "TIMEOUT" else 4408, str(refused))
            return
        except (WebSocketDisconnect, ValueError):
            await _close(socket, 4400, "Invalid message")
            return
        client = client_of(principal, socket.client.host if socket.client else None)
        try:
            with self.limits.connection(client):
                await socket.send_text('{"type":"connection_ack"}')
                await _Connection(self, socket, principal).run()
        except Refused as refused:
            await _close(socket, 4429, str(refused)[:120])

    async def _connection_init(self, socket: WebSocket) -> Principal:
        try:
            async with asyncio.timeout(CONNECTION_INIT_WAIT):
                message = _message(await socket.receive_text())
        except TimeoutError:
            raise Refused("Connection initialisation timeout", "TIMEOUT") from None
        if message.get("type") != "connection_init":
            raise ValueError("expected connection_init")
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            raise ValueError("connection_init payload must be an object")
        given = {k.lower(): v for k, v in payload.items() if isinstance(v, str)}
        headers = dict(socket.headers)
        for name in ("authorization", "x-api-key"):
            if name in given:
                headers[name] = given[name]
        if not self.authenticator.enabled:
            return ANONYMOUS
        try:
            return self.authenticator.authenticate(Headers(headers=headers))
        except AuthError as refused:
            raise Refused(f"Forbidden: {refused.message}"[:120], "UNAUTHENTICATED") from None


class _Connection:
    """One accepted WebSocket: its running operations, by the client's ids."""

    def __init__(self, live: Live, socket: WebSocket, principal: Principal) -> None:
        self.live = live
        self.socket = socket
        self.principal = principal
        self.running: dict[str, asyncio.Task[None]] = {}
        self.send_lock = asyncio.Lock()

    async def run(self) -> None:
        try:
            while True:
                try:
                    message = _message(await self.socket.receive_text())
                except ValueError:
                    await _close(self.socket, 4400, "Invalid message")
                    return
                kind = message.get("type")
                if kind == "ping":
                    await self.send({"type": "pong"})
                elif kind == "pong":
                    continue
                elif kind == "subscribe":
                    if not await self.start(message):
                        return
                elif kind == "complete":
                    task = self.running.pop(str(message.get("id")), None)
                    if task is not None:
                        task.cancel()
                elif kind == "connection_init":
                    await _close(self.socket, 4429, "Too many initialisation requests")
                    return
                else:
                    await _close(self.socket, 4400, "Invalid message")
                    return
        except WebSocketDisconnect:
            pass
        finally:
            for task in self.running.values():
                task.cancel()
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def start(self, message: dict[str, Any]) -> bool:
        operation_id, payload = message.get("id"), message.get("payload")
        if not isinstance(operation_id, str) or not operation_id or len(operation_id) > 128:
            await _close(self.socket, 4400, "Invalid message")
            return False
        if operation_id in self.running:
            await _close(self.socket, 4409, f"Subscriber for {operation_id[:64]} already exists")
            return False
        limit = self.live.server.max_subscriptions_per_connection
        if len(self.running) >= limit:
            errors = Refused(f"At most {limit} operations per connection.", "RATE_LIMITED")
            await self.send({"type": "error", "id": operation_id, "payload": errors.errors()})
            return True
        params = _params(payload)
        if params is None:
            await _close(self.socket, 4400, "Invalid message")
            return False
        task = asyncio.create_task(self.operate(operation_id, params))
        self.running[operation_id] = task
        return True

    async def operate(
        self, operation_id: str, params: tuple[str, dict[str, Any] | None, str | None]
    ) -> None:
        request_id = f"ws-{id(self):x}-{operation_id[:32]}"
        try:
            state = self.socket.app.state
            async for payload in self.live.results(params, self.principal, request_id, state):
                await self.send({"type": "next", "id": operation_id, "payload": payload})
        except Refused as refused:
            await self.send({"type": "error", "id": operation_id, "payload": refused.errors()})
            return
        except asyncio.CancelledError:
            return  # the client completed it, or left
        finally:
            self.running.pop(operation_id, None)
        await self.send({"type": "complete", "id": operation_id})

    async def send(self, message: dict[str, Any]) -> None:
        if self.socket.application_state is not WebSocketState.CONNECTED:
            return
        async with self.send_lock:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                await self.socket.send_bytes(secrets().bytes(orjson.dumps(message)))


def _params(payload: object) -> tuple[str, dict[str, Any] | None, str | None] | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None
    variables, name = payload.get("variables"), payload.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        return None
    if name is not None and not isinstance(name, str):
        return None
    return payload["query"], variables, name


def _message(text: str) -> dict[str, Any]:
    if len(text) > 100_000:
        raise ValueError("message too large")
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(message, dict):
        raise ValueError("not an object")
    return message


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    if socket.application_state is WebSocketState.CONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await socket.close(code=code, reason=reason[:120])


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
                pending = asyncio.ensure_future(_next(iterator))
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


async def _next(iterator: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    return await anext(iterator)


@contextlib.contextmanager
def end_streams_on_signal(watcher: Watcher) -> Iterator[None]:
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
                loop.call_soon_threadsafe(watcher.end_streams)
                previous(number, frame)

            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, previous in wrapped.items():
            signal.signal(sig, previous)
