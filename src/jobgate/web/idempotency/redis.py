"""Idempotency keys in Redis, so that every worker and replica of the gateway shares them.

One Redis string per key, ``jobgate:idem:<scope>:<key>``, alive for the TTL. Every decision is
one Lua script, so Redis applies it atomically: of any number of concurrent first requests
exactly one claims the key. A running request's record holds a random token and a lease (read
against Redis's own clock, the same for every replica); once the lease is over without an
answer - its process died - the next request with the key resumes it. ``finish`` and
``abandon`` compare the token with ours in the same atomic step, so a request whose lease ran
out never overwrites the record of an attempt that claimed the key after it.

Records: ``running\n<fingerprint>\n<token>\n<lease end, ms>`` and
``done\n<fingerprint>\n<settled 1|0>\n<status>\n<media type>\n<body>``.
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

from jobgate.web.idempotency.store import (
    Begun,
    InFlight,
    Mismatch,
    Outcome,
    Replay,
    StoredResponse,
    StoreUnavailable,
)

PREFIX = "jobgate:idem:"

# ARGV: fingerprint, token, lease ms, ttl ms. Answers {"begun", "0"|"1" (resume)},
# {"inflight"}, {"mismatch"}, {"replay", record} or {"unreadable"}.
_BEGIN = r"""
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local running = 'running\n' .. ARGV[1] .. '\n' .. ARGV[2] .. '\n' .. (now + tonumber(ARGV[3]))
local current = redis.call('GET', KEYS[1])
if not current then
  redis.call('SET', KEYS[1], running, 'PX', ARGV[4])
  return {'begun', '0'}
end
local state, rest = string.match(current, '^([^\n]*)\n(.*)$')
if state == 'running' then
  local fingerprint, token, lease = string.match(rest, '^([^\n]*)\n([^\n]*)\n([^\n]*)$')
  if fingerprint ~= ARGV[1] then return {'mismatch'} end
  if now < tonumber(lease) then return {'inflight'} end
  redis.call('SET', KEYS[1], running, 'PX', ARGV[4])
  return {'begun', '1'}
elseif state == 'done' then
  local fingerprint, settled = string.match(rest, '^([^\n]*)\n([^\n]*)\n')
  if fingerprint ~= ARGV[1] then return {'mismatch'} end
  if settled == '1' then return {'replay', current} end
  redis.call('SET', KEYS[1], running, 'PX', ARGV[4])
  return {'begun', '1'}
end
return {'unreadable'}
"""

# Whether the key holds our running record (ARGV[1] is our token) or nothing at all.
_OURS = r"""
local current = redis.call('GET', KEYS[1])
if not current then return 'gone' end
local state, fingerprint, token = string.match(current, '^([^\n]*)\n([^\n]*)\n([^\n]*)')
if state == 'running' and token == ARGV[1] then return 'ours' end
return 'theirs'
"""
# Record the answer (ARGV: token, record, ttl ms) if the key is still ours, or holds nothing:
# our lease ran out and nobody claimed the key since, so keeping the answer is still right.
_FINISH = (
    "local function ours()" + _OURS + "end\n"
    "if ours() ~= 'theirs' then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1 end\n"
    "return 0"
)
# Release the key (ARGV: token, resume 1|0, fingerprint): deleted, or for a resumed key a
# running record whose lease is already over, so that the next request resumes it again.
_ABANDON = (
    "local function ours()" + _OURS + "end\n"
    "if ours() ~= 'ours' then return 0 end\n"
    "if ARGV[2] == '1' then\n"
    "  redis.call('SET', KEYS[1], 'running\\n' .. ARGV[3] .. '\\n\\n0', 'KEEPTTL')\n"
    "  return 1\n"
    "end\n"
    "return redis.call('DEL', KEYS[1])"
)

T = TypeVar("T")


class RedisStore:
    def __init__(self, client: redis.asyncio.Redis, *, ttl: float, lease: float, url: str) -> None:
        self._redis = client
        self.ttl_ms = max(1, round(ttl * 1000))
        self.lease_ms = max(1, round(lease * 1000))
        self._url = url
        self._password = urlsplit(url).password
        self._begin = client.register_script(_BEGIN)
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
        token = secrets.token_hex(16)
        args: list[str | int] = [fingerprint, token, self.lease_ms, self.ttl_ms]
        answer = await self._call(lambda: self._begin(keys=[PREFIX + key], args=args))
        verdict = _text(answer[0])
        if verdict == "begun":
            return Begun(token, fingerprint, resume=_text(answer[1]) == "1")
        if verdict == "inflight":
            return InFlight()
        if verdict == "mismatch":
            return Mismatch()
        if verdict == "replay":
            return Replay(_stored(answer[1]))
        # Something else wrote into our namespace: refuse rather than guess.
        raise StoreUnavailable(f"unreadable record under {PREFIX}")

    async def finish(self, key: str, begun: Begun, response: StoredResponse) -> None:
        record = b"\n".join(
            (
                b"done",
                begun.fingerprint.encode(),
                b"1" if response.settled else b"0",
                str(response.status).encode(),
                response.media_type.encode(),
                response.body,
            )
        )
        args: list[str | bytes | int] = [begun.token, record, self.ttl_ms]
        await self._call(lambda: self._finish(keys=[PREFIX + key], args=args))

    async def abandon(self, key: str, begun: Begun) -> None:
        args = [begun.token, "1" if begun.resume else "0", begun.fingerprint]
        await self._call(lambda: self._abandon(keys=[PREFIX + key], args=args))

    def describe(self) -> str:
        return redact(self._url)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _call(self, command: Callable[[], Awaitable[T]]) -> T:
        try:
            return await command()
        except (RedisError, OSError) as exc:
            text = f"{type(exc).__name__}: {exc}"
            if self._password:
                text = text.replace(self._password, "***")
            raise StoreUnavailable(text) from exc


def _text(value: bytes | str) -> str:
    # The client never decodes responses; the str branch only satisfies the types.
    return value.decode() if isinstance(value, bytes) else value


def _stored(record: bytes | str) -> StoredResponse:
    raw = record.encode() if isinstance(record, str) else record
    parts = raw.split(b"\n", 5)
    if len(parts) != 6 or not parts[3].isdigit():
        raise StoreUnavailable(f"unreadable answer under {PREFIX}")
    _, _, settled, status, media_type, body = parts
    return StoredResponse(int(status), body, media_type.decode(), settled == b"1")


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()
