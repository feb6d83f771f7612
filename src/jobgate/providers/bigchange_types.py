"""BigChange job types through a DataLoader: in-flight requests shared, answers kept briefly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from strawberry.dataloader import AbstractCache, DataLoader

from jobgate.domain import JobError
from jobgate.domain.bigchange import BigChangeJobType

# A job type, ``None`` when the upstream says it does not exist, or why it could not be read.
Found: TypeAlias = BigChangeJobType | JobError | None

DEFAULT_TTL = 60.0


class _ExpiringCache(AbstractCache[int, Found]):
    """Keeps each job type for ``ttl`` seconds; failures and "not found" are not kept."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[int, tuple[float, asyncio.Future[Found]]] = {}

    def get(self, key: int) -> asyncio.Future[Found] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, future = entry
        if self._clock() - stored >= self._ttl or _unusable(future):
            del self._entries[key]
            return None
        return future

    def set(self, key: int, value: asyncio.Future[Found]) -> None:
        self._entries[key] = (self._clock(), value)

    def delete(self, key: int) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


def _unusable(future: asyncio.Future[Found]) -> bool:
    # A pending future is kept: that is how concurrent callers share one request.
    if not future.done():
        return False
    if future.cancelled() or future.exception() is not None:
        return True
    return not isinstance(future.result(), BigChangeJobType)


class JobTypeLoader:
    """One upstream request per distinct job type, however many jobs or callers ask for it."""

    def __init__(
        self,
        fetch: Callable[[int], Awaitable[Found]],
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        async def fetch_all(type_ids: list[int]) -> list[Found]:
            # BigChange has no batch endpoint for job types: one GET per id, concurrently.
            return list(await asyncio.gather(*(fetch(t) for t in type_ids)))

        self._loader: DataLoader[int, Found] = DataLoader(
            load_fn=fetch_all, cache_map=_ExpiringCache(ttl, clock)
        )

    async def load(self, type_id: int) -> Found:
        # Shielded: one caller giving up (its request timed out) must not cancel the shared fetch.
        return await asyncio.shield(self._loader.load(type_id))
