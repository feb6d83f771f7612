"""Live updates held open: 1,000 ``jobUpdated`` subscriptions over 200 jobs, on WebSockets.

The gateway runs as a real process over the simulators with ``poll_interval`` 1 s. Fifty
graphql-transport-ws connections hold twenty subscriptions each, one job apiece, five
subscriptions per job. Once every subscription has its first update, the bench holds them for a
while and reports the gateway's memory before and after, its CPU use while holding, and the
upstream reads per poll interval (the target: one per watched job, however many watch it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

import orjson
import websockets

from bench import cpu
from bench.procs import rss_mb
from bench.session import Gateway, Session
from bench.upstreams import Upstream

WATCH = "subscription($ids: [ID!]!) { jobUpdated(ids: $ids) { id job { status } error { code } } }"
CONNECTIONS = 50
PER_CONNECTION = 20
INTERVAL = 1.0


def subscriptions(session: Session, upstream: Upstream, *, jobs: int = 200, hold_s: float) -> None:
    ids = list(itertools.islice(_round_robin(upstream.job_ids), jobs))
    gateway = session.start_gateway(
        upstream,
        label="gateway (live)",
        source_options={"poll_interval": INTERVAL},
        server_options={"max_live_connections_per_client": CONNECTIONS * 2},
    )
    try:
        figures = asyncio.run(_hold(gateway, upstream, ids, hold_s))
    finally:
        gateway.stop()
    subs = CONNECTIONS * PER_CONNECTION
    line = (
        f"Live updates: {subs:,} jobUpdated subscriptions over {len(ids)} jobs "
        f"({subs // len(ids)} each) on {CONNECTIONS} WebSockets, poll_interval {INTERVAL:g} s, "
        f"held {figures['held_s']:.0f} s: {figures['reads_per_interval']:.1f} upstream reads per "
        f"interval (target {len(ids)}, one per job); gateway CPU {figures['cores']:.2f} cores "
        f"while holding; RSS {figures['rss_before']:.0f} MB before subscribing, "
        f"{figures['rss_after']:.0f} MB holding them; first updates of all in "
        f"{figures['subscribe_s']:.1f} s."
    )
    print("  " + line, flush=True)
    session.findings.notes.append(line)


def _round_robin(by_source: dict[str, list[str]]) -> itertools.chain[str]:
    columns = itertools.zip_longest(*by_source.values())
    return itertools.chain.from_iterable((i for i in row if i) for row in columns)


async def _hold(
    gateway: Gateway, upstream: Upstream, ids: list[str], hold_s: float
) -> dict[str, float]:
    pid = gateway.process.pid
    rss_before = rss_mb(pid) or 0.0
    plan = [ids[n % len(ids)] for n in range(CONNECTIONS * PER_CONNECTION)]
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        sockets = [
            await stack.enter_async_context(_socket(gateway.port)) for _ in range(CONNECTIONS)
        ]
        for n, job_id in enumerate(plan):
            await _subscribe(sockets[n // PER_CONNECTION], str(n), job_id)
        await asyncio.gather(*(_drain(ws, PER_CONNECTION) for ws in sockets))
        subscribed = time.monotonic() - started
        before, reads_before = cpu.snapshot(pid), _reads(upstream)
        draining = [asyncio.create_task(_drain(ws, None)) for ws in sockets]
        await asyncio.sleep(hold_s)
        after, reads_after = cpu.snapshot(pid), _reads(upstream)
        for task in draining:
            task.cancel()
        await asyncio.gather(*draining, return_exceptions=True)
    used = cpu.usage(before, after)
    return {
        "held_s": hold_s,
        "reads_per_interval": (reads_after - reads_before) / (hold_s / INTERVAL),
        "cores": used.gateway_cores if used else float("nan"),
        "rss_before": rss_before,
        "rss_after": rss_mb(pid) or 0.0,
        "subscribe_s": subscribed,
    }


def _reads(upstream: Upstream) -> int:
    counted = upstream.count()
    return counted or 0


@contextlib.asynccontextmanager
async def _socket(port: int) -> Any:
    url = f"ws://127.0.0.1:{port}/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send('{"type":"connection_init"}')
        await ws.recv()
        yield ws


async def _subscribe(ws: Any, operation_id: str, job_id: str) -> None:
    payload = {"query": WATCH, "variables": {"ids": [job_id]}}
    await ws.send(orjson.dumps({"type": "subscribe", "id": operation_id, "payload": payload}))


async def _drain(ws: Any, count: int | None) -> None:
    """Read ``count`` updates (None: until cancelled)."""
    seen = 0
    while count is None or seen < count:
        await ws.recv()
        seen += 1
