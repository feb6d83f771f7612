"""A small closed-loop HTTP/1.1 load generator on asyncio, bounded in time and request count.

Used when ``wrk`` is not installed, for requests that must each be sent once (mutations), and by
the smoke test. Each connection sends a request, reads the whole answer, and sends the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.procs import LOOPBACK
from bench.queries import has_errors
from bench.stats import RunResult, summarize


@dataclass(frozen=True)
class Target:
    """What to send: to 127.0.0.1:``port``, one of ``bodies`` per request (none for a GET)."""

    port: int
    path: str
    method: str = "POST"
    bodies: tuple[bytes, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    once: bool = False  # every body is sent exactly once (mutations are not idempotent)
    check_graphql: bool = True  # count 200 answers that carry GraphQL or payload errors

    def raw_requests(self) -> list[bytes]:
        head = f"{self.method} {self.path} HTTP/1.1\r\nHost: {LOOPBACK}:{self.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers)
        if not self.bodies:
            return [(head + "\r\n").encode()]
        head += "Content-Type: application/json\r\n"
        return [(head + f"Content-Length: {len(b)}\r\n\r\n").encode() + b for b in self.bodies]


@dataclass
class _Shared:
    requests: Iterator[bytes]
    deadline: float
    max_requests: int | None
    check_graphql: bool
    sent: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def next_request(self) -> bytes | None:
        if time.monotonic() >= self.deadline:
            return None
        if self.max_requests is not None and self.sent >= self.max_requests:
            return None
        raw = next(self.requests, None)
        if raw is not None:
            self.sent += 1
        return raw


def _cycle(raw: list[bytes], once: bool) -> Iterator[bytes]:
    if once:
        yield from raw
        return
    while True:
        yield from raw


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """One HTTP/1.1 answer: (status, body, whether the server will close the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip().lower()
    closing = headers.get("connection") == "close"
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"])), closing
    if headers.get("transfer-encoding") == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, b"".join(chunks), closing
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    if status in (204, 304) or 100 <= status < 200:
        return status, b"", closing
    return status, await reader.read(), True


async def _connection(shared: _Shared, port: int, timeout_s: float) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    try:
        while (raw := shared.next_request()) is not None:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout_s):
                    if writer is None or reader is None:
                        reader, writer = await asyncio.open_connection(LOOPBACK, port)
                    writer.write(raw)
                    status, answer, closing = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
                kind = "timeout" if isinstance(exc, TimeoutError) else "transport"
                shared.errors[kind] += 1
                shared.latencies_ms.append((time.perf_counter() - started) * 1000)
                if writer is not None:
                    writer.close()
                writer = reader = None
                await asyncio.sleep(0.01)  # a refusing server is not hammered in a tight loop
                continue
            shared.latencies_ms.append((time.perf_counter() - started) * 1000)
            if status >= 400:
                shared.errors[f"http {status}"] += 1
            elif shared.check_graphql and has_errors(answer):
                shared.errors["graphql"] += 1
            if closing:
                writer.close()
                writer = reader = None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def run_async(
    name: str,
    target: Target,
    *,
    connections: int,
    duration_s: float,
    max_requests: int | None = None,
    timeout_s: float = 10.0,
) -> RunResult:
    """Closed loop over ``connections`` connections until the time, the count or the bodies end."""
    shared = _Shared(
        requests=_cycle(target.raw_requests(), target.once),
        deadline=time.monotonic() + duration_s,
        max_requests=max_requests,
        check_graphql=target.check_graphql,
    )
    started = time.perf_counter()
    await asyncio.gather(*(_connection(shared, target.port, timeout_s) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return summarize(name, connections, shared.latencies_ms, elapsed, dict(shared.errors))


def run(
    name: str,
    target: Target,
    *,
    connections: int,
    duration_s: float,
    max_requests: int | None = None,
) -> RunResult:
    """``run_async`` on its own event loop (uvloop when installed)."""
    coro = run_async(
        name, target, connections=connections, duration_s=duration_s, max_requests=max_requests
    )
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)
