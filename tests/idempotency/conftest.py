"""A real ``redis-server`` for the Redis store's tests, and the two stores as one fixture."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import redis

from jobgate.config import IdempotencySettings
from jobgate.idempotency import IdempotencyStore, MemoryStore, RedisStore

NO_REDIS = "redis-server is not installed (scripts/test installs it with apt-get when run as root)"

StoreFactory = Callable[..., IdempotencyStore]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> IdempotencySettings:
    """Gateway settings for each store (the Redis one skips without redis-server)."""
    if request.param == "memory":
        return IdempotencySettings()
    return IdempotencySettings(redis_url=request.getfixturevalue("redis_url"))


@pytest.fixture
async def make_store(backend: IdempotencySettings) -> AsyncIterator[StoreFactory]:
    """Builds stores of the parametrized kind (``ttl``, ``lease`` in seconds); closes them."""
    built: list[IdempotencyStore] = []

    def make(*, ttl: float = 60.0, lease: float = 60.0, max_keys: int = 1000) -> IdempotencyStore:
        store: IdempotencyStore
        if backend.redis_url is None:
            store = MemoryStore(ttl=ttl, lease=lease, max_keys=max_keys)
        else:
            store = RedisStore.from_url(backend.redis_url, ttl=ttl, lease=lease)
        built.append(store)
        return store

    yield make
    for store in built:
        await store.aclose()
