"""A transport that sits between a client and an upstream and misbehaves on purpose.

Faults are what the network or an overloaded upstream does: an error status, a slow answer, a
body that is not JSON, a refused connection, or a write that is applied and then loses its
answer. It also counts the requests that reached the upstream, so tests can prove that a write
was sent once and only once.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class Fault:
    method: str
    path: str  # a regular expression matched against the whole URL path
    kind: str  # "status" | "delay" | "garbage" | "refuse" | "drop-after"
    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1  # how many matching requests it affects; -1 for all

    def matches(self, request: httpx.Request) -> bool:
        return (self.method in ("*", request.method)) and bool(
            re.fullmatch(self.path, request.url.path)
        )


class FaultyTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.faults: list[Fault] = []
        self.delivered: Counter[tuple[str, str]] = Counter()
        # Runs just before a request is delivered: what the upstream does between two calls
        # (a token expiring, another user changing the job) is otherwise hard to stage.
        self.before_delivery: Callable[[httpx.Request], None] | None = None

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()
        self.delivered.clear()

    def calls(self, method: str, path_pattern: str = ".*") -> int:
        """How many requests of ``method`` on a matching path reached the upstream."""
        return sum(
            n
            for (m, p), n in self.delivered.items()
            if m == method and re.fullmatch(path_pattern, p)
        )

    def _take(self, request: httpx.Request) -> Fault | None:
        for fault in self.faults:
            if fault.times != 0 and fault.matches(request):
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self._take(request)
        if fault is None:
            return await self._deliver(request)
        if fault.kind == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if fault.kind == "status":
            return httpx.Response(
                fault.status, headers=fault.headers, content=fault.body, request=request
            )
        if fault.kind == "garbage":
            return httpx.Response(
                200,
                headers={"content-type": "application/json"},
                content=fault.body or b"<html>\x00\xff not json",
                request=request,
            )
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
            return await self._deliver(request)
        if fault.kind == "drop-after":
            response = await self._deliver(request)
            await response.aread()
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        raise ValueError(f"unknown fault kind {fault.kind!r}")

    async def _deliver(self, request: httpx.Request) -> httpx.Response:
        if self.before_delivery is not None:
            self.before_delivery(request)
        self.delivered[request.method, request.url.path] += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
