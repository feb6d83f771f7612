"""graphql-transport-ws on ``/graphql``: one connection from its upgrade to its close.

The client sends ``connection_init`` within ``CONNECTION_INIT_WAIT`` seconds, with its credential
in the payload (``{"Authorization": "Bearer …"}`` or ``{"x-api-key": "…"}``; the upgrade
request's own headers count too), then runs operations by id (``subscribe``, ``next``,
``error``, ``complete``; ``ping``/``pong``). Protocol mistakes close the socket with the
protocol's codes: 4400 bad message, 4403 refused credential, 4406 subprotocol, 4408 no
``connection_init`` in time, 4409 an id already running, 4429 a second ``connection_init`` or
too many live connections; shutting down, 1001 after every operation completed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from jobgate.domain.principal import ANONYMOUS, Principal
from jobgate.redaction import secrets
from jobgate.web.auth import AuthError
from jobgate.web.live import Live, Refused, client_of

PROTOCOL = "graphql-transport-ws"
CONNECTION_INIT_WAIT = 3.0


async def serve_socket(live: Live, socket: WebSocket) -> None:
    """One graphql-transport-ws connection, from its upgrade to its close."""
    if PROTOCOL not in socket.scope.get("subprotocols", ()):
        await socket.close(code=4406, reason="Subprotocol not acceptable")
        return
    await socket.accept(subprotocol=PROTOCOL)
    try:
        principal = await _connection_init(live, socket)
    except Refused as refused:
        await _close(socket, 4403 if refused.code != "TIMEOUT" else 4408, str(refused))
        return
    except (WebSocketDisconnect, ValueError):
        await _close(socket, 4400, "Invalid message")
        return
    client = client_of(principal, socket.client.host if socket.client else None)
    try:
        with live.limits.connection(client):
            await socket.send_text('{"type":"connection_ack"}')
            connection = _Connection(live, socket, principal)
            live.sockets.add(connection)
            try:
                await connection.run()
            finally:
                live.sockets.discard(connection)
    except Refused as refused:
        await _close(socket, 4429, str(refused)[:120])


async def _connection_init(live: Live, socket: WebSocket) -> Principal:
    try:
        async with asyncio.timeout(CONNECTION_INIT_WAIT):
            message = _message(await _receive(socket))
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
    if not live.authenticator.enabled:
        return ANONYMOUS
    try:
        return live.authenticator.authenticate(Headers(headers=headers))
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
                    message = _message(await _receive(self.socket))
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

    async def going_away(self) -> None:
        if self.running:
            await asyncio.wait(list(self.running.values()), timeout=2.0)
        await _close(self.socket, 1001, "The gateway is shutting down")

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
                # Text frames: the protocol's messages are JSON text, and a browser gives a
                # binary frame to graphql-ws as a Blob it cannot parse.
                await self.socket.send_text(secrets().bytes(orjson.dumps(message)).decode())


def _params(payload: object) -> tuple[str, dict[str, Any] | None, str | None] | None:
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return None
    variables, name = payload.get("variables"), payload.get("operationName")
    if variables is not None and not isinstance(variables, dict):
        return None
    if name is not None and not isinstance(name, str):
        return None
    return payload["query"], variables, name


async def _receive(socket: WebSocket) -> str:
    """The next message's text, sent as a text or a binary frame (UTF-8)."""
    message = await socket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000))
    text = message.get("text")
    if text is None:
        try:
            text = (message.get("bytes") or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("not UTF-8") from None
    return str(text)


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
