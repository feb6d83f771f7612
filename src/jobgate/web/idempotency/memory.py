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

from jobgate.web.idempotency.store import (
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
        max_bytes: int = 16_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.lease = lease
        self.max_keys = max_keys
        # Of stored keys and answers: keys are bounded by their size, not only their count.
        self.max_bytes = max_bytes
        self._bytes = 0
        self._clock = clock
        # Ordered by last write, so the front holds the entries that expire first.
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def begin(self, key: str, fingerprint: str) -> Outcome:
        now = self._clock()
        self._prune(now)
        entry = self._entries.get(key)
        if entry is not None and entry.expires <= now:
            self._forget(key)
            entry = None
        if entry is None:
            while len(self._entries) >= self.max_keys:
                # Bounded memory beats remembering everything: the oldest key goes first.
                self._drop_oldest()
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
        if entry.response is not None:
            self._bytes -= _cost(key, entry.response)
        entry.response = None
        self._entries.move_to_end(key)
        return Begun(entry.token, entry.fingerprint, resume=resume)

    async def finish(self, key: str, begun: Begun, response: StoredResponse) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.token != begun.token:
            return  # our lease ran out and another attempt holds the key: it decides
        expires = self._clock() + self.ttl
        self._forget(key)
        self._entries[key] = _Entry(begun.fingerprint, expires, None, 0.0, response)
        self._bytes += _cost(key, response)
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            self._drop_oldest()

    async def abandon(self, key: str, begun: Begun) -> None:
        entry = self._entries.get(key)
        if entry is None or entry.token != begun.token:
            return
        if begun.resume:
            entry.token, entry.lease_until = None, 0.0  # still resumable: the next one re-reads
        else:
            self._forget(key)

    def describe(self) -> str:
        return "memory"

    async def aclose(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _prune(self, now: float) -> None:
        while self._entries:
            first = next(iter(self._entries.values()))
            if first.expires > now:
                return
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        key, entry = self._entries.popitem(last=False)
        if entry.response is not None:
            self._bytes -= _cost(key, entry.response)

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry.response is not None:
            self._bytes -= _cost(key, entry.response)


# Bytes an answered key holds besides its body: the entry, its fingerprint, the dict slot.
ENTRY_OVERHEAD = 500


def _cost(key: str, response: StoredResponse) -> int:
    return len(key) + len(response.body) + ENTRY_OVERHEAD
