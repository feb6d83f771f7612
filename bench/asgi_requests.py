"""Whole GraphQL requests through the gateway's ASGI app in this process, for
``python -m bench.instructions --requests``: the app is called directly (no HTTP server, no
client), its upstream calls go through the production aiohttp transport to a static upstream in
another process. What is left out is uvicorn's protocol and the load generator; what is counted
is everything jobgate does for a request, its upstream reads included.

The query shapes are bench-peers' (``../shared/bench-peers``): Q0 ``{ __typename }``, Q1 one
job, Q20 twenty aliased jobs, cold (no two requests in flight share an id), ``v`` with the ids in
variables, ``c`` with them written into the document.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bench.static_jobs import SOURCE, native_ids

KINDS = ("Q0", "Q1v", "Q1c", "Q20v", "Q20c")
CONCURRENCY = 16
ROTATION = 1000  # distinct ids the requests rotate over (well under the URL caches' 4,096)
_FIELDS = "id state: providerStatus object: providerStatus"
_IDS = [f"{SOURCE}:{native}" for native in native_ids(ROTATION)]

Message = dict[str, Any]


def ids_per_request(kind: str) -> int:
    return 20 if kind.startswith("Q20") else 1


def _ids(kind: str, n: int) -> list[str]:
    count = ids_per_request(kind)
    return [_IDS[(n * count + k) % ROTATION] for k in range(count)]


def request_body(kind: str, n: int) -> bytes:
    """The body of the ``n``-th request of a kind."""
    if kind == "Q0":
        return orjson.dumps({"query": "{ __typename }"})
    ids = _ids(kind, n)
    if kind.endswith("c"):
        fields = " ".join(
            f"j{k}: job(id: {orjson.dumps(jid).decode()}) {{ {_FIELDS} }}"
            for k, jid in enumerate(ids)
        )
        return orjson.dumps({"query": f"{{ {fields} }}"})
    params = ", ".join(f"$i{k}: ID!" for k in range(len(ids)))
    fields = " ".join(f"j{k}: job(id: $i{k}) {{ {_FIELDS} }}" for k in range(len(ids)))
    query = f"query({params}) {{ {fields} }}"
    return orjson.dumps({"query": query, "variables": {f"i{k}": v for k, v in enumerate(ids)}})


def _scope(length: int) -> Message:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(length).encode()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }


async def _post(app: Any, body: bytes) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(_scope(len(body)), receive, send)
    return sent


async def _lifespan(app: Any) -> Callable[[], Awaitable[None]]:
    """Start the app's lifespan (its clients); the callable ends it."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"the app did not start: {started}")

    async def stop() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await task

    return stop


async def drive(config_toml: str, kind: str, requests: int) -> None:
    """Build the app as ``jobgate serve`` would, warm it by reading every id once (so the
    counted requests find the caches a long-running gateway has), then send ``requests``
    requests of ``kind``, ``CONCURRENCY`` at a time; any answer with errors fails the run."""
    import tomllib

    from bench.instructions import ready_to_count
    from jobgate.cli import tune_gc
    from jobgate.config.loading import parse_settings
    from jobgate.web.app import create_app

    settings = parse_settings(tomllib.loads(config_toml), "<bench>", {})
    app = create_app(settings)
    stop = await _lifespan(app)
    tune_gc()
    failures: list[str] = []

    async def one(n: int) -> None:
        sent = await _post(app, request_body(kind, n))
        answer = sent[-1].get("body", b"")
        if sent[0].get("status") != 200 or b'"errors"' in answer:
            failures.append(f"{sent[0].get('status')} {answer[:300]!r}")

    async def sender(first: int, count: int) -> None:
        for n in range(first, count, CONCURRENCY):
            await one(n)

    warm_up = ROTATION // ids_per_request(kind)  # every id read once
    await asyncio.gather(*(sender(k, warm_up) for k in range(CONCURRENCY)))
    await ready_to_count()
    await asyncio.gather(*(sender(k, requests) for k in range(CONCURRENCY)))
    await stop()
    if failures:
        print(f"{len(failures)} failed requests, first: {failures[0]}", file=sys.stderr)
        raise SystemExit(3)
