"""Concurrency helpers adapters share: one call per id, gathered in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from jobgate.domain import JobError, JobFailure

T = TypeVar("T")


async def for_each(
    native_ids: Sequence[str], call: Callable[[str], Awaitable[T]]
) -> list[T | JobError]:
    """Run ``call`` for every id concurrently; a ``JobFailure`` becomes that id's error."""

    async def one(native_id: str) -> T | JobError:
        try:
            return await call(native_id)
        except JobFailure as failure:
            return failure.error

    return await gather_all([one(n) for n in native_ids])


async def gather_all(awaitables: Sequence[Awaitable[T]]) -> list[T]:
    """``asyncio.gather``, minus the task and loop turns it costs when there is only one."""
    if len(awaitables) == 1:
        return [await awaitables[0]]
    return list(await asyncio.gather(*awaitables))
