"""The two stores as one fixture (the real ``redis-server`` is tests/conftest.py's)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from jobgate.config import IdempotencySettings
from jobgate.web.idempotency import IdempotencyStore, MemoryStore, RedisStore, SqliteStore
from tests.conftest import free_port

__all__ = ["StoreFactory", "free_port"]

StoreFactory = Callable[..., IdempotencyStore]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> IdempotencySettings:
    """Gateway settings for each store (the Redis one skips without redis-server)."""
    if request.param == "memory":
        return IdempotencySettings()
    if request.param == "sqlite":
        return IdempotencySettings(path=str(tmp_path / "keys.sqlite"))
    return IdempotencySettings(redis_url=request.getfixturevalue("redis_url"))


@pytest.fixture
async def make_store(backend: IdempotencySettings) -> AsyncIterator[StoreFactory]:
    """Builds stores of the parametrized kind (``ttl``, ``lease`` in seconds); closes them."""
    built: list[IdempotencyStore] = []

    def make(*, ttl: float = 60.0, lease: float = 60.0, max_keys: int = 1000) -> IdempotencyStore:
        store: IdempotencyStore
        if backend.redis_url is not None:
            store = RedisStore.from_url(backend.redis_url, ttl=ttl, lease=lease)
        elif backend.path is not None:
            store = SqliteStore(backend.path, ttl=ttl, lease=lease)
        else:
            store = MemoryStore(ttl=ttl, lease=lease, max_keys=max_keys)
        built.append(store)
        return store

    yield make
    for store in built:
        await store.aclose()
