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
    expires: float  # the record's end (its TTL)
    token: str | None  # set while a request holds the key
    lease_until: float = 0.0  # while the holder runs: after this, it is taken to have died
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
            self._entries[key] = _Entry(fingerprint, now + self.ttl, None)
            return self._claim(key, now, resume=False)
        if entry.fingerprint != fingerprint:
            return Mismatch()
        if entry.response is None:
            if now < entry.lease_until:
                return InFlight()
            return self._claim(key, now, resume=True)  # the earlier attempt died
        if entry.response.settled:
            return Replay(entry.response)
        return self._claim(key, now, resume=True)  # its answer left the outcome open

    def _claim(self, key: str, now: float, *, resume: bool) -> Begun:
        entry = self._entries[key]
        entry.token = secrets.token_hex(16)
        entry.lease_until = now + self.lease
        entry.expires = now + self.ttl
        entry.response = None
        self._entries.move_to_end(key)
        return Begun(entry.token, entry.fingerprint, resume=resume)

    async def finish(self, key: str, begun: Begun, response: StoredResponse) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token != begun.token:
            return  # our lease ran out and another attempt holds the key: it decides
        expires = self._clock() + self.ttl
        self._entries[key] = _Entry(begun.fingerprint, expires, None, 0.0, response)
        self._entries.move_to_end(key)

    async def abandon(self, key: str, begun: Begun) -> None:
        entry = self._entries.get(key)
        if entry is None or entry.token != begun.token:
            return
        if begun.resume:
            entry.token, entry.lease_until = None, 0.0  # still resumable: the next one re-reads
        else:
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
