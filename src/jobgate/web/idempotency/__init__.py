"""Idempotency-Key support for mutations: the store interface, its two stores, the HTTP guard."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from jobgate.config import MUTATION_GRACE, IdempotencySettings, ServerSettings
from jobgate.redaction import register
from jobgate.web.idempotency.guard import IdempotencyGuard
from jobgate.web.idempotency.memory import MemoryStore
from jobgate.web.idempotency.redis import RedisStore, redact
from jobgate.web.idempotency.sqlite import SqliteStore
from jobgate.web.idempotency.store import (
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
    "SqliteStore",
    "StoreUnavailable",
    "StoredResponse",
    "build_store",
    "lease_for",
    "scoped_key",
]


def lease_for(server: ServerSettings) -> float:
    """How long a running request holds its key.

    Longer than any request may run (a mutation answers within ``request_timeout`` plus its
    grace), so a slow first attempt is never resumed while it runs; short, so that a retry
    after a process died mid-request soon resumes it (reading the jobs before writing).
    """
    return 2 * server.request_timeout + MUTATION_GRACE


# Set by `jobgate serve --workers N` for its workers: the SQLite file they share.
SHARED_PATH_ENV = "JOBGATE_IDEMPOTENCY_PATH"


def build_store(
    settings: IdempotencySettings,
    server: ServerSettings,
    environ: Mapping[str, str] = os.environ,
) -> IdempotencyStore:
    lease = lease_for(server)
    if settings.redis_url:
        register([urlsplit(settings.redis_url).password])
        log.info("idempotency keys are kept in Redis at %s", redact(settings.redis_url))
        return RedisStore.from_url(settings.redis_url, ttl=settings.ttl_seconds, lease=lease)
    path = settings.path or environ.get(SHARED_PATH_ENV)
    if path:
        log.info("idempotency keys are kept in %s, shared by this host's workers", path)
        return SqliteStore(path, ttl=settings.ttl_seconds, lease=lease)
    # Replicas on several hosts need Redis to share keys: say where they are kept.
    log.info("idempotency keys are kept in this process's memory")
    return MemoryStore(ttl=settings.ttl_seconds, lease=lease, max_keys=settings.max_keys)
