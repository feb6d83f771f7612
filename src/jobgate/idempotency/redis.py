"""Idempotency keys in Redis, so that every worker and replica of the gateway shares them.

One Redis string per key, ``jobgate:idem:<principal>:<key>``. Claiming is ``SET NX PX``: Redis
applies it atomically, so of any number of concurrent first requests exactly one wins. The
in-flight marker carries a random token and expires after the lease (a replica that dies
mid-request does not lock the key forever). ``finish`` and ``abandon`` are Lua scripts that
compare the marker with ours and write in the same atomic step, so a request whose lease ran
out never overwrites or deletes the marker of an attempt that claimed the key after it.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from jobgate.idempotency.store import (
    Begun,
    InFlight,
    Mismatch,
    Outcome,
    Replay,
    StoredResponse,
    StoreUnavailable,
)

PREFIX = "jobgate:idem:"

# Record the answer if the key still holds our marker, or holds nothing (our lease ran out
# and nobody claimed the key since: keeping the answer is still right).
_FINISH = """
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] or not current then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_ABANDON = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

_RUNNING = b"running"
_DONE = b"done"

T = TypeVar("T")


class RedisStore:
    def __init__(self, client: redis.asyncio.Redis, *, ttl: float, lease: float, url: str) -> None:
        self._redis = client
        self.ttl_ms = max(1, round(ttl * 1000))
        self.lease_ms = max(1, round(lease * 1000))
        self._url = url
        self._password = urlsplit(url).password
        self._finish = client.register_script(_FINISH)
        self._abandon = client.register_script(_ABANDON)

    @classmethod
    def from_url(cls, url: str, *, ttl: float, lease: float) -> RedisStore:
        """A store over a new client; no connection is made until the first request."""
        client = redis.asyncio.Redis.from_url(
            url,
            # Fail within seconds: a request waits on Redis before its mutation may run.
            socket_connect_timeout=2.0,
            socket_timeout=2.0,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
        )
        return cls(client, ttl=ttl, lease=lease, url=url)

    async def begin(self, key: str, fingerprint: str) -> Outcome:
        name = PREFIX + key
        token = secrets.token_hex(16)
        marker = _marker(fingerprint, token)
        # A key can expire or be abandoned between SET NX failing and GET: then claim again.
        for _ in range(3):
            claimed = await self._call(
                lambda: self._redis.set(name, marker, nx=True, px=self.lease_ms)
            )
            if claimed:
                return Begun(token, fingerprint)
            current = await self._call(lambda: self._redis.get(name))
            if current is not None:
                # The client never decodes responses; the str branch only satisfies the types.
                record = current.encode() if isinstance(current, str) else current
                return self._judge(record, fingerprint)
        return InFlight()

    async def finish(self, key: str, begun: Begun, response: StoredResponse) -> None:
        record = b"\n".join(
            (
                _DONE,
                begun.fingerprint.encode(),
                str(response.status).encode(),
                response.media_type.encode(),
                response.body,
            )
        )
        marker = _marker(begun.fingerprint, begun.token)
        await self._call(
            lambda: self._finish(keys=[PREFIX + key], args=[marker, record, self.ttl_ms])
        )

    async def abandon(self, key: str, begun: Begun) -> None:
        marker = _marker(begun.fingerprint, begun.token)
        await self._call(lambda: self._abandon(keys=[PREFIX + key], args=[marker]))

    def describe(self) -> str:
        return redact(self._url)

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _judge(self, record: bytes, fingerprint: str) -> Outcome:
        state, _, rest = record.partition(b"\n")
        if state == _RUNNING:
            stored_fingerprint = rest.partition(b"\n")[0]
            return InFlight() if stored_fingerprint == fingerprint.encode() else Mismatch()
        if state == _DONE:
            parts = rest.split(b"\n", 3)
            if len(parts) == 4 and parts[1].isdigit():
                stored_fingerprint, status, media_type, body = parts
                if stored_fingerprint != fingerprint.encode():
                    return Mismatch()
                return Replay(StoredResponse(int(status), body, media_type.decode()))
        # Something else wrote into our namespace: refuse rather than guess.
        raise StoreUnavailable(f"unreadable record (state {state[:20]!r}) under {PREFIX}")

    async def _call(self, command: Callable[[], Awaitable[T]]) -> T:
        try:
            return await command()
        except (RedisError, OSError) as exc:
            text = f"{type(exc).__name__}: {exc}"
            if self._password:
                text = text.replace(self._password, "***")
            raise StoreUnavailable(text) from exc


def _marker(fingerprint: str, token: str) -> bytes:
    return b"\n".join((_RUNNING, fingerprint.encode(), token.encode()))


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()
