"""An upstream that answers far more than anyone should read: 100 MB error bodies, with and
without a Content-Length, and a small gzip that inflates to 100 MB. The gateway stops reading
at max_answer_bytes, answers UPSTREAM_UNAVAILABLE, and other requests are not held up."""

from __future__ import annotations

import asyncio
import functools
import os
import time
import zlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from jobgate.config import SourceSettings
from jobgate.domain import ErrorCode, JobFailure
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.upstream.channel import build_channel
from jobgate.upstream.transport import production_transport

MB = 1_000_000
CHUNK = b"x" * MB


@functools.cache
def bomb() -> bytes:
    """A gzip body of ~100 KB that inflates to 100 MB (made without holding the 100 MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: the gzip container
    spaces = b" " * MB
    return (
        packer.compress(b"{")
        + b"".join(packer.compress(spaces) for _ in range(100))
        + (packer.compress(b"}") + packer.flush())
    )


async def huge(request: web.Request) -> web.StreamResponse:
    kind = request.match_info["kind"]
    if kind == "small":
        return web.json_response({"id": "1"})
    if kind == "bomb":
        return web.Response(
            body=bomb(),
            status=500,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    answer = web.StreamResponse(status=500)
    if kind == "declared":
        answer.content_length = 100 * MB
    await answer.prepare(request)
    try:
        for _ in range(100):
            await answer.write(CHUNK)
    except ConnectionError:
        pass  # the gateway stopped reading
    return answer


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/jobs/{kind}", huge)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def rss_mb() -> float:
    """This process's resident memory now (it serves the upstream too, chunk by chunk)."""
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE") / MB


@pytest.mark.parametrize("kind", ["declared", "chunked", "bomb"])
async def test_a_huge_answer_is_cut_off_and_others_go_on(upstream: str, kind: str) -> None:
    settings = SourceSettings(
        name="ingest", provider=DATA_CLOUD, base_url=upstream, retries=0, timeout=20
    )
    http = build_channel(settings, production_transport(settings), headers={})
    bomb()
    before = rss_mb()
    peak = before
    latencies: list[float] = []

    async def small_reads() -> None:
        nonlocal peak
        for _ in range(40):
            peak = max(peak, rss_mb())
            started = time.perf_counter()
            response = await http.get("/jobs/small")
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200
            await asyncio.sleep(0.01)

    async def huge_read() -> JobFailure:
        try:
            await http.get(f"/jobs/{kind}")
        except JobFailure as failure:
            return failure
        raise AssertionError("a 100 MB answer was read")

    try:
        failure, _ = await asyncio.gather(huge_read(), small_reads())
    finally:
        await http.aclose()
    assert failure.error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert "answer is too large" in failure.error.message
    peak = max(peak, rss_mb())
    assert peak - before < 40, f"grew {peak - before:.0f} MB: reading stops at 4 MB"
    assert max(latencies) < 0.5, f"other reads waited {max(latencies):.2f} s"
