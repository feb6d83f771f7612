from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from tests import harness
from tests.wire import free_port


@pytest.fixture
async def gw() -> AsyncIterator[harness.Gateway]:
    """The gateway over every simulator, seeded with the demo jobs."""
    async with harness.gateway() as running:
        yield running


NO_REDIS = "redis-server is not installed (scripts/test installs it with apt-get when run as root)"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, without persistence; its URL."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip(NO_REDIS)
    port = free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    # No persistence: nothing is written to disk, and the server starts and stops fast.
    options = ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    process = subprocess.Popen(
        [executable, "--port", str(port), "--bind", "127.0.0.1", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            assert process.poll() is None, "redis-server exited at startup"
            try:
                with redis.Redis.from_url(url) as client:
                    client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not answer within 10 s"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The shared server, emptied for this test."""
    with redis.Redis.from_url(redis_server) as client:
        client.flushdb()
    return redis_server
