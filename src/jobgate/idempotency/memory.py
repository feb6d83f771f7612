"""Idempotency keys in this process's memory: the default, for one gateway process.

Every method runs without awaiting anything, so under asyncio each call is atomic and no lock
is needed. Several workers or replicas do not see each other's keys: use the Redis store there.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from jobgate.idempotency.store import (
    Begun,
    InFlight,
    Mismatch,
    Outcome,
    Replay,
    StoredResponse,
)


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    expires: float
    token: str | None  # set while the first request runs
    response: StoredResponse | None = None


class MemoryStore:
    def __init__(
        self,
        *,
        ttl: float,
        lease: float,
        max_keys: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.lease = lease
        self.max_keys = max_keys
        self._clock = clock
        # Ordered by last write, so the front holds the entries that expire first.
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def begin(self, key: str, fingerprint: str) -> Outcome:
        now = self._clock()
        self._prune(now)
        entry = self._entries.get(key)
        if entry is not None and entry.expires <= now:
            del self._entries[key]
            entry = None
        if entry is None:
            while len(self._entries) >= self.max_keys:
                # Bounded memory beats remembering everything: the oldest key goes first.
                self._entries.popitem(last=False)
            token = secrets.token_hex(16)
            self._entries[key] = _Entry(fingerprint, now + self.lease, token)
            return Begun(token, fingerprint)
        if entry.fingerprint != fingerprint:
            return Mismatch()
        if entry.response is None:
            return InFlight()
        return Replay(entry.response)

    async def finish(self, key: str, begun: Begun, response: StoredResponse) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token != begun.token:
            return  # our lease ran out and another attempt holds the key: it decides
        self._entries[key] = _Entry(begun.fingerprint, self._clock() + self.ttl, None, response)
        self._entries.move_to_end(key)

    async def abandon(self, key: str, begun: Begun) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token == begun.token:
            del self._entries[key]

    def describe(self) -> str:
        return "memory"

    async def aclose(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _prune(self, now: float) -> None:
        while self._entries:
            first = next(iter(self._entries.values()))
            if first.expires > now:
                return
            self._entries.popitem(last=False)
