"""Idempotency-Key support for mutations: the store interface, its two stores, the HTTP guard."""

from __future__ import annotations

import logging

from jobgate.config import IdempotencySettings, ServerSettings
from jobgate.idempotency.guard import IdempotencyGuard
from jobgate.idempotency.memory import MemoryStore
from jobgate.idempotency.redis import RedisStore, redact
from jobgate.idempotency.store import (
    Begun,
    IdempotencyStore,
    InFlight,
    Mismatch,
    Outcome,
    Replay,
    StoredResponse,
    StoreUnavailable,
    scoped_key,
)

log = logging.getLogger("jobgate.idempotency")

__all__ = [
    "Begun",
    "IdempotencyGuard",
    "IdempotencyStore",
    "InFlight",
    "MemoryStore",
    "Mismatch",
    "Outcome",
    "RedisStore",
    "Replay",
    "StoreUnavailable",
    "StoredResponse",
    "build_store",
    "lease_for",
    "scoped_key",
]


def lease_for(server: ServerSettings) -> float:
    """How long an in-flight marker holds its key.

    Longer than any request may run (the endpoint answers within ``request_timeout``), so a
    slow first attempt is never run twice; finite, so a process that dies mid-request does
    not lock the key for the whole TTL.
    """
    return max(60.0, 2 * server.request_timeout)


def build_store(settings: IdempotencySettings, server: ServerSettings) -> IdempotencyStore:
    lease = lease_for(server)
    if settings.redis_url:
        log.info("idempotency keys are kept in Redis at %s", redact(settings.redis_url))
        return RedisStore.from_url(settings.redis_url, ttl=settings.ttl_seconds, lease=lease)
    # Several workers or replicas need Redis to share keys: say where they are kept.
    log.info("idempotency keys are kept in this process's memory")
    return MemoryStore(ttl=settings.ttl_seconds, lease=lease, max_keys=settings.max_keys)
