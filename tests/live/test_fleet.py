"""Two `jobgate serve` replicas sharing one real redis-server: a job watched on both is polled
once per interval across the fleet, and a change made through one reaches the other's
subscribers at once. The upstream is the bench's counting simulator, in its own process."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.e2e.test_processes import free_port, running
from tests.live.support import ws_connect

INTERVAL = 3.0


@contextlib.contextmanager
def counting_simulators(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "sim.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.sim_upstream", "--port", str(port), "--per-source", "3"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "sim.log").read_text()
            try:
                httpx.get(base + "/_bench/info", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def reads(base: str, source: str) -> int:
    return int(httpx.get(base + "/_bench/count", timeout=5).json()["by_source"].get(source, 0))


def test_two_replicas_poll_each_job_once_and_share_changes(tmp_path: Path, redis_url: str) -> None:
    with counting_simulators(tmp_path) as upstream:
        info = httpx.get(upstream + "/_bench/info", timeout=5).json()
        job = info["ids"]["ingest"][0]  # the first scenario: Open
        config = re.sub(
            r"^(\[sources\.[a-z]+\])$",
            rf"\1\npoll_interval = {INTERVAL}",
            info["config_toml"],
            flags=re.MULTILINE,
        )
        config += f'\n[idempotency]\nredis_url = "{redis_url}"\n'
        path = tmp_path / "jobgate.toml"
        path.write_text(config)
        ports = [free_port(), free_port()]
        with (
            running(tmp_path, "serve", "--config", str(path), "--port", str(ports[0])) as a,
            running(tmp_path, "serve", "--config", str(path), "--port", str(ports[1])) as b,
        ):
            for process, port in ((a, ports[0]), (b, ports[1])):
                process.wait_until_up(f"http://127.0.0.1:{port}")
            polled, pushed = asyncio.run(_watch_on_both(upstream, ports, job))
    # Four intervals: one poll of the job each across the fleet (two without sharing).
    assert 3 <= polled <= 6, polled
    assert pushed == "UploadComplete"


async def _watch_on_both(upstream: str, ports: list[int], job: str) -> tuple[int, str]:
    async with ws_connect(ports[0]) as first, ws_connect(ports[1]) as second:
        for ws in (first, second):
            assert (await ws.receive())["type"] == "connection_ack"
            await ws.subscribe("1", [job])
            await ws.updates(1, within=10)
        before = reads(upstream, "ingest")
        await asyncio.sleep(INTERVAL * 4)
        polled = reads(upstream, "ingest") - before
        close = f'mutation {{ closeJob(id: "{job}") {{ job {{ status }} }} }}'
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"http://127.0.0.1:{ports[0]}/graphql", json={"query": close}
            )
            answer.raise_for_status()
        # Well within one poll interval: only the first replica's news can bring it.
        [update] = await second.updates(1, within=INTERVAL / 3)
        return polled, update["job"]["providerStatus"]
