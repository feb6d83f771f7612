"""A gateway on a real socket over the simulators (each source behind a FaultyTransport), and
WebSocket (graphql-transport-ws) and SSE clients for it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import httpx
import orjson
import uvicorn
import websockets
from websockets.asyncio.client import ClientConnection

from jobgate.config import ServerSettings, Settings
from jobgate.config.auth import AuthSettings
from jobgate.simulators.faults import FaultyTransport
from jobgate.simulators.suite import SimulatedVendor, build_vendors
from tests.conftest import free_port
from tests.harness import app_over_faults

WATCH = "subscription($ids: [ID!]!) { jobUpdated(ids: $ids) { id job { status providerStatus } error { code message } } }"  # noqa: E501


@dataclass
class Live:
    base: str
    port: int
    faults: dict[str, FaultyTransport]
    vendors: list[SimulatedVendor]
    app: Any

    def store(self, source: str) -> Any:
        return next(v for v in self.vendors if v.source == source).store

    def reads(self, source: str, path: str) -> int:
        return self.faults[source].calls("GET", path)


@contextlib.asynccontextmanager
async def live_gateway(
    *,
    poll_interval: float = 0.2,
    server: ServerSettings | None = None,
    auth: AuthSettings | None = None,
    **source_overrides: Any,
) -> AsyncIterator[Live]:
    vendors = build_vendors()
    settings = Settings(
        server=replace(server or ServerSettings(), probe_sources=False),
        sources={},
        auth=auth or AuthSettings(),
    )
    app, faults = app_over_faults(
        vendors, settings, poll_interval=poll_interval, retries=0, **source_overrides
    )
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve())
    for _ in range(500):
        if running.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", port, faults, vendors, app)
    finally:
        running.should_exit = True
        await asyncio.wait_for(task, 20)


class Socket:
    """A graphql-transport-ws client."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(orjson.dumps(message).decode())

    async def receive(self, within: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), within)
        # The protocol's messages are text: a browser hands a binary frame to graphql-ws as a
        # Blob, which it cannot parse ("Message is missing the 'type' property").
        assert isinstance(raw, str), f"a binary frame: {raw!r:.80}"
        message: dict[str, Any] = orjson.loads(raw)
        return message

    async def subscribe(self, operation_id: str, ids: list[str], query: str = WATCH) -> None:
        payload = {"query": query, "variables": {"ids": ids}}
        await self.send({"type": "subscribe", "id": operation_id, "payload": payload})

    async def updates(self, count: int, within: float = 5.0) -> list[dict[str, Any]]:
        """The next ``count`` jobUpdated payloads (any operation id)."""
        found = []
        while len(found) < count:
            message = await self.receive(within)
            assert message["type"] == "next", message
            found.append(message["payload"]["data"]["jobUpdated"])
        return found


@contextlib.asynccontextmanager
async def ws_client(live: Live, init: dict[str, Any] | None = None) -> AsyncIterator[Socket]:
    async with ws_connect(live.port, init) as client:
        yield client


@contextlib.asynccontextmanager
async def ws_connect(port: int, init: dict[str, Any] | None = None) -> AsyncIterator[Socket]:
    """A graphql-transport-ws client to the gateway on ``port``, connection_init sent."""
    url = f"ws://127.0.0.1:{port}/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as connection:  # type: ignore[list-item]
        client = Socket(connection)
        message: dict[str, Any] = {"type": "connection_init"}
        if init is not None:
            message["payload"] = init
        await client.send(message)
        yield client


async def sse_events(
    live: Live,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
    *,
    stop_after: int | None = None,
    within: float = 5.0,
) -> tuple[int, list[tuple[str, Any]]]:
    """POST with ``Accept: text/event-stream``: the status and the (event, data) pairs, up to
    ``stop_after`` events or the stream's end."""
    events: list[tuple[str, Any]] = []
    wanted = {"accept": "text/event-stream", **(headers or {})}
    async with httpx.AsyncClient(base_url=live.base, timeout=within) as client:
        async with client.stream("POST", "/graphql", json=body, headers=wanted) as answer:
            if answer.status_code != 200:
                await answer.aread()
                return answer.status_code, [("error", answer.json())]
            name = ""
            async with asyncio.timeout(within):
                async for line in answer.aiter_lines():
                    if line.startswith("event: "):
                        name = line[len("event: ") :]
                    elif line.startswith("data:") and name:
                        text = line[len("data:") :].strip()
                        events.append((name, orjson.loads(text) if text else None))
                        name = ""
                        if stop_after is not None and len(events) >= stop_after:
                            break
            return answer.status_code, events
