"""An upstream that answers from a script, and an ``Channel`` over it with a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import time as clocks
from collections.abc import Iterator
from typing import Any

import httpx

from jobgate.internals.httpx import UpstreamClient
from jobgate.upstream.channel import Channel
from jobgate.upstream.guard import CallGuard
from jobgate.upstream.resilience import (
    Clock,
    read_back_reserve,
    request_deadline_var,
    write_deadline_var,
)

Step = int | tuple[int, dict[str, str]] | str  # a status, a status with headers, or an action


class FakeTime:
    """A clock that only moves when the code under test sleeps (or a test moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class Script(httpx.AsyncBaseTransport):
    """Answers each request with the next step; the last step repeats.

    Steps: an HTTP status (optionally with headers), "refuse" (the connection never opens),
    "drop" (the request arrives, the answer is lost) or "hang" (no answer until cancelled).
    """

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.attempts = 0
        self.delivered: list[httpx.Request] = []
        self.arrived = asyncio.Event()  # set whenever a request reaches the upstream

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        if step == "refuse":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        self.delivered.append(request)
        self.arrived.set()
        if step == "drop":
            raise httpx.RemoteProtocolError("Server disconnected", request=request)
        if step == "hang":
            await asyncio.Event().wait()
        status, headers = step if isinstance(step, tuple) else (step, {})
        assert isinstance(status, int)
        return httpx.Response(status, headers=headers, json={"id": "1"}, request=request)


def channel(script: Script, time: FakeTime | None = None, **options: Any) -> Channel:
    time = time or FakeTime()
    settings: dict[str, Any] = {"timeout": 5.0, "max_concurrency": 4, **options}
    client = UpstreamClient(base_url="http://upstream.test", transport=script)
    guard = CallGuard("src", client, clock=time, sleep=time.sleep, rand=lambda: 1.0, **settings)
    return Channel(guard)


@contextlib.contextmanager
def request_deadline(seconds: float, clock: Clock = clocks.monotonic) -> Iterator[float]:
    """Within this block, upstream calls neither wait nor sleep past ``seconds`` from now."""
    deadline = clock() + seconds
    token = request_deadline_var.set(deadline)
    writes = write_deadline_var.set(deadline - read_back_reserve(seconds))
    try:
        yield deadline
    finally:
        write_deadline_var.reset(writes)
        request_deadline_var.reset(token)
