"""Replicas sharing live updates through Redis: each job polled once across the fleet.

With ``[idempotency] redis_url`` set, every replica's ``Watcher`` claims a lease per job before
polling it (``SET NX PX``, renewed by its holder at each poll, released when nobody there
watches the job any more): only the holder reads the job upstream. What a replica learns — a
poll's change or error, a mutation's outcome — is published on one channel, and every other
replica hands it to its own subscribers. Messages carry domain values, pickled; they are read
back by an unpickler that builds only jobgate's domain types and plain values, so a message
cannot run code. If Redis fails, each replica polls its own jobs (and logs it) until it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import pickle
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError

log = logging.getLogger("jobgate.fleet")

CHANNEL = "jobgate:watch:updates"
LEASE_PREFIX = "jobgate:watch:lease:"
MAX_MESSAGE = 1_000_000
# For each key: take the lease, or renew it when it is ours already; 1 where it is ours.
_CLAIM = """
local owned = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then
    owned[i] = 1
  elseif redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    owned[i] = 1
  else
    owned[i] = 0
  end
end
return owned
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 0
"""
_PLAIN = {
    ("builtins", "frozenset"),
    ("builtins", "set"),
    ("datetime", "datetime"),
    ("datetime", "timezone"),
    ("datetime", "timedelta"),
    ("copyreg", "_reconstructor"),
    ("builtins", "object"),
}

Deliver = Callable[[str, Any], None]


class _DomainOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("jobgate.domain.") or (module, name) in _PLAIN:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not a domain value")


def decode(raw: bytes) -> tuple[str, str, Any]:
    """(replica, job id, answer) from a message; ValueError when it is not one."""
    if len(raw) > MAX_MESSAGE:
        raise ValueError("message too large")
    try:
        replica, job_id, answer = _DomainOnly(io.BytesIO(raw)).load()
    except Exception as exc:  # any malformed or refused pickle
        raise ValueError(f"not a live-update message: {exc}") from None
    if not isinstance(replica, str) or not isinstance(job_id, str):
        raise ValueError("not a live-update message")
    return replica, job_id, answer


class Fleet:
    def __init__(self, url: str, replica: str | None = None) -> None:
        self.redis: redis.asyncio.Redis = redis.asyncio.Redis.from_url(url)
        self.replica = replica or secrets.token_hex(8)
        self._claim = self.redis.register_script(_CLAIM)
        self._release = self.redis.register_script(_RELEASE)
        self._listening: asyncio.Task[None] | None = None
        self.healthy = True

    async def claim(self, job_ids: Sequence[str], ttl: float) -> list[str]:
        """The ids this replica holds the lease of (all of them when Redis is unreachable)."""
        if not job_ids:
            return []
        keys = [LEASE_PREFIX + job_id for job_id in job_ids]
        try:
            owned = await self._claim(keys=keys, args=[self.replica, max(1, int(ttl * 1000))])
        except RedisError as exc:
            self._unhealthy(exc)
            return list(job_ids)
        self.healthy = True
        return [job_id for job_id, mine in zip(job_ids, owned, strict=True) if mine]

    async def release(self, job_ids: Sequence[str]) -> None:
        if not job_ids:
            return
        with contextlib.suppress(RedisError):
            await self._release(keys=[LEASE_PREFIX + j for j in job_ids], args=[self.replica])

    async def publish(self, job_id: str, answer: Any) -> None:
        message = pickle.dumps((self.replica, job_id, answer), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            await self.redis.publish(CHANNEL, message)
        except RedisError as exc:
            self._unhealthy(exc)

    def listen(self, deliver: Deliver) -> None:
        """Hand every other replica's updates to ``deliver`` until ``aclose``."""
        self._listening = asyncio.create_task(self._listen(deliver), name="fleet listener")

    async def _listen(self, deliver: Deliver) -> None:
        while True:
            try:
                async with self.redis.pubsub() as channel:
                    await channel.subscribe(CHANNEL)
                    async for message in channel.listen():
                        self._received(message, deliver)
            except RedisError as exc:
                self._unhealthy(exc)
                await asyncio.sleep(1.0)

    def _received(self, message: dict[str, Any], deliver: Deliver) -> None:
        if message.get("type") != "message" or not isinstance(message.get("data"), bytes):
            return
        try:
            replica, job_id, answer = decode(message["data"])
        except ValueError as exc:
            log.warning("live-update message dropped: %s", str(exc)[:200])
            return
        if replica != self.replica:
            deliver(job_id, answer)

    def _unhealthy(self, exc: Exception) -> None:
        if self.healthy:
            log.warning("redis unreachable for live updates, polling locally: %s", type(exc))
        self.healthy = False

    async def aclose(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listening
        await self.redis.aclose()
