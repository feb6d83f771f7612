"""An HTTP/1.1 server on a real socket in front of a simulator, that misbehaves on purpose.

``FaultyTransport`` (faults.py) fails requests inside httpx; this fails them on the wire, where
the production transport (aiohttp) sees exactly what a real upstream or load balancer does to it:
a connection closed before or after the request was applied, an answer that never comes, an
error status, a body that is not JSON. It counts every request that reached it, so a test can
prove that a write left the gateway once and only once, whatever the client library would have
liked to do about a dropped connection.

Fault kinds:

* ``drop-before``: read the request, close the connection; the simulator never sees it.
* ``drop-after``: pass it on (applied), then close the connection without an answer.
* ``hang-before``: answer nothing for ``hang`` seconds without passing it on, then close.
* ``hang-after``: pass it on, then answer nothing for ``hang`` seconds, then close.
* ``status``: answer ``status`` with ``body``; the simulator never sees it.
* ``status-after``: pass it on, then answer ``status`` with ``body`` instead of its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import h11
import httpx
from starlette.types import ASGIApp

KINDS = frozenset(
    {"drop-before", "drop-after", "hang-before", "hang-after", "status", "status-after"}
)
MAX_REQUEST_BYTES = 1_000_000


@dataclass
class WireFault:
    method: str  # an HTTP method, or "*"
    path: str  # a regular expression matched against the whole path (no query string)
    kind: str
    status: int = 500
    body: bytes = b""
    content_type: str = "application/json"
    hang: float = 5.0
    times: int = 1  # how many matching requests it affects; -1 for all

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and re.fullmatch(self.path, path) is not None


@dataclass
class _Request:
    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]


# Picks a fault for a request no listed fault matched (random faults for a soak), or None.
Chaos = Callable[[str, str], "WireFault | None"]


@dataclass
class FaultProxy:
    """Serves ``app`` on 127.0.0.1 with faults. ``received`` counts (method, path) as they came;
    ``forwarded`` what was passed on to the simulator (and so applied, for a write)."""

    app: ASGIApp
    faults: list[WireFault] = field(default_factory=list)
    chaos: Chaos | None = None
    received: Counter[tuple[str, str]] = field(default_factory=Counter)
    forwarded: Counter[tuple[str, str]] = field(default_factory=Counter)
    _server: asyncio.Server | None = None
    _client: httpx.AsyncClient | None = None
    _connections: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> str:
        """Listen on a free port; returns the origin (``http://127.0.0.1:<port>``)."""
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://upstream.local"
        )
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
        if self._client is not None:
            await self._client.aclose()

    async def __aenter__(self) -> FaultProxy:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    def add(self, fault: WireFault) -> WireFault:
        self.faults.append(fault)
        return fault

    def count(self, method: str, path_pattern: str = ".*") -> int:
        """How many requests of ``method`` on a matching path reached this server."""
        return sum(
            n
            for (m, p), n in self.received.items()
            if m == method and re.fullmatch(path_pattern, p)
        )

    def _take(self, request: _Request) -> WireFault | None:
        for fault in self.faults:
            if fault.times != 0 and fault.matches(request.method, request.path):
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None if self.chaos is None else self.chaos(request.method, request.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await self._connection(reader, writer)
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # closing: asyncio's server would log a cancelled connection task as an error
        finally:
            self._connections.discard(task)
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            request = await _read_request(conn, reader)
            if request is None:
                return
            self.received[request.method, request.path] += 1
            fault = self._take(request)
            if fault is not None and fault.kind in ("drop-before", "hang-before", "status"):
                if fault.kind == "hang-before":
                    await asyncio.sleep(fault.hang)
                if fault.kind != "status":
                    return
                await _answer(conn, writer, fault.status, fault.body, fault.content_type)
            else:
                status, headers, body = await self._forward(request)
                if fault is None:
                    await _answer(conn, writer, status, body, None, headers)
                elif fault.kind == "drop-after":
                    return
                elif fault.kind == "hang-after":
                    await asyncio.sleep(fault.hang)
                    return
                else:  # status-after
                    await _answer(conn, writer, fault.status, fault.body, fault.content_type)
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return
            conn.start_next_cycle()

    async def _forward(self, request: _Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        assert self._client is not None
        self.forwarded[request.method, request.path] += 1
        headers = [(k, v) for k, v in request.headers if k.lower() != b"content-length"]
        response = await self._client.request(
            request.method, request.target, headers=headers, content=request.body
        )
        kept = [
            (k, v)
            for k, v in response.headers.raw
            if k.lower() not in (b"content-length", b"transfer-encoding", b"connection")
        ]
        return response.status_code, kept, response.content


async def _read_request(conn: h11.Connection, reader: asyncio.StreamReader) -> _Request | None:
    """The next whole request on the connection, or None when the client closed it."""
    request: _Request | None = None
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            if not data and request is None:
                return None
            continue
        if isinstance(event, h11.Request):
            request = _Request(event.method.decode(), event.target.decode(), list(event.headers))
        elif isinstance(event, h11.Data) and request is not None:
            request.body += event.data
            if len(request.body) > MAX_REQUEST_BYTES:
                return None
        elif isinstance(event, h11.EndOfMessage):
            return request
        elif isinstance(event, h11.ConnectionClosed):
            return None


async def _answer(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    content_type: str | None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    sent = list(headers or [])
    if content_type is not None and body:
        sent.append((b"content-type", content_type.encode()))
    if status not in (204, 304):  # answers that have no body at all
        sent.append((b"content-length", str(len(body)).encode()))
    writer.write(conn.send(h11.Response(status_code=status, headers=sent)))
    if body and status not in (204, 304):
        writer.write(conn.send(h11.Data(data=body)))
    writer.write(conn.send(h11.EndOfMessage()))
    await writer.drain()
