"""The per-request pipeline's shortcuts do what the general-purpose code they replace did: the
label cache, the shared request timeout, the request headers read once,
and the request log's line for an answer given behind the request scope."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from prometheus_client import REGISTRY, Counter, Histogram
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from jobgate.metrics import labelled
from jobgate.timeouts import SharedTimeout
from jobgate.web.params import raw_headers
from jobgate.web.scope import RequestScope, note_codes, request_id_of


def test_labelled_returns_the_same_child_and_counts_into_it() -> None:
    counter = Counter("jobgate_test_pipeline_calls", "test", ["kind", "outcome"])
    histogram = Histogram("jobgate_test_pipeline_seconds", "test", ["kind"], buckets=(1.0,))
    try:
        first = labelled(counter, "query", "ok")
        assert labelled(counter, "query", "ok") is first
        assert first is counter.labels("query", "ok")
        assert labelled(counter, "query", "error") is not first
        for _ in range(3):
            labelled(counter, "query", "ok").inc()
        labelled(counter, "query", "error").inc()
        labelled(histogram, "query").observe(0.5)
        labelled(histogram, "query").observe(2.0)
        sample = REGISTRY.get_sample_value
        assert sample("jobgate_test_pipeline_calls_total", {"kind": "query", "outcome": "ok"}) == 3
        assert (
            sample("jobgate_test_pipeline_calls_total", {"kind": "query", "outcome": "error"}) == 1
        )
        assert sample("jobgate_test_pipeline_seconds_count", {"kind": "query"}) == 2
        assert sample("jobgate_test_pipeline_seconds_bucket", {"kind": "query", "le": "1.0"}) == 1
    finally:
        REGISTRY.unregister(counter)
        REGISTRY.unregister(histogram)


async def test_shared_timeout_expires_each_block_at_its_own_deadline() -> None:
    shared = SharedTimeout(0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    ended: dict[str, tuple[str, float]] = {}

    async def block(name: str, delay: float, work: float) -> None:
        await asyncio.sleep(delay)
        try:
            async with shared.timeout():
                await asyncio.sleep(work)
            ended[name] = ("done", loop.time() - started)
        except TimeoutError:
            ended[name] = ("timed out", loop.time() - started)

    await asyncio.gather(
        block("slow", 0, 5),
        block("quick", 0.05, 0.01),
        block("later slow", 0.1, 5),
        block("just in time", 0.1, 0.1),
    )
    assert ended["quick"][0] == ended["just in time"][0] == "done"
    assert ended["slow"][0] == ended["later slow"][0] == "timed out"
    assert 0.19 <= ended["slow"][1] < 0.6
    assert 0.29 <= ended["later slow"][1] < 0.7
    assert ended["later slow"][1] - ended["slow"][1] >= 0.08
    assert not shared._running  # nothing left behind


async def test_shared_timeout_passes_other_cancellations_on() -> None:
    shared = SharedTimeout(5)

    async def waits() -> None:
        async with shared.timeout():
            await asyncio.sleep(5)

    task = asyncio.create_task(waits())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not shared._running

    # An error inside the block is not turned into anything else either.
    with pytest.raises(KeyError):
        async with shared.timeout():
            raise KeyError("x")
    assert not shared._running


def test_shared_timeout_works_in_one_event_loop_after_another() -> None:
    shared = SharedTimeout(0.05)

    async def outlasts() -> bool:
        try:
            async with shared.timeout():
                await asyncio.sleep(1)
        except TimeoutError:
            return True
        return False

    started = time.monotonic()
    assert asyncio.run(outlasts()) and asyncio.run(outlasts())
    assert time.monotonic() - started < 0.5


def test_headers_read_once_are_the_ones_starlette_reads() -> None:
    scope = {
        "type": "http",
        "headers": [
            (b"content-type", b"application/json"),
            (b"x-request-id", b"first"),
            (b"accept", b"application/json"),
            (b"x-request-id", b"second"),
        ],
    }
    request = Request(scope)
    received = raw_headers(request)
    for name in ("content-type", "x-request-id", "accept", "content-length"):
        found = received.get(name.encode())
        assert (found.decode("latin-1") if found else None) == Headers(scope=scope).get(name)
    assert request_id_of(dict(scope)) == Headers(scope=scope)["x-request-id"] == "first"


@contextlib.contextmanager
def request_lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    found: list[logging.LogRecord] = []
    with caplog.at_level(logging.INFO, logger="jobgate.graphql"):
        yield found
    found.extend(r for r in caplog.records if r.getMessage() == "graphql request")


async def test_request_log_has_the_codes_an_answer_noted_and_its_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Whoever answers notes its codes; the scope's line has them, the status and the id,
    which the answer carries back whatever the app sent."""
    answer = orjson.dumps(
        {"data": None, "errors": [{"message": "no", "extensions": {"code": "PIECES"}}]}
    )

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        note_codes(["PIECES"])
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for start in range(0, len(answer), 7):
            chunk = answer[start : start + 7]
            more = start + 7 < len(answer)
            await send({"type": "http.response.body", "body": chunk, "more_body": more})

    logged = RequestScope(app, timeout=5)
    transport = httpx.ASGITransport(app=logged)
    with request_lines(caplog) as lines:
        async with httpx.AsyncClient(transport=transport, base_url="http://log.test") as client:
            response = await client.post(
                "/graphql", json={"query": "{ x }"}, headers={"X-Request-Id": "piecewise"}
            )
    assert response.content == answer
    assert response.headers["x-request-id"] == "piecewise"
    [line] = lines
    assert line.__dict__["codes"] == ["PIECES"]
    assert line.__dict__["outcome"] == "error"
    assert line.__dict__["request_id"] == "piecewise"
    assert line.__dict__["status"] == 200
