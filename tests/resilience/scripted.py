"""An upstream that answers from a script, and an ``UpstreamHTTP`` over it with a fake clock."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from jobgate.upstream.channel import UpstreamHTTP
from jobgate.upstream.client import UpstreamClient

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


def channel(script: Script, time: FakeTime | None = None, **options: Any) -> UpstreamHTTP:
    time = time or FakeTime()
    settings: dict[str, Any] = {"timeout": 5.0, "max_concurrency": 4, **options}
    client = UpstreamClient(base_url="http://upstream.test", transport=script)
    return UpstreamHTTP("src", client, clock=time, sleep=time.sleep, rand=lambda: 1.0, **settings)
