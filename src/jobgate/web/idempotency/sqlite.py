"""Idempotency keys in a SQLite file, shared by the worker processes of one host.

``jobgate serve --workers N`` gives its workers one such file (each worker's memory would let
the same key run once per worker). Every decision is one ``BEGIN IMMEDIATE`` transaction, which
SQLite serialises across processes, so of any number of concurrent first requests exactly one
claims a key. Leases and expiry are read against the wall clock, the same for every worker.
Calls run in a thread: a worker waiting for another's transaction never blocks its event loop.
Replicas on several hosts need the Redis store.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from jobgate.web.idempotency.store import (
    Begun,
    InFlight,
    Mismatch,
    Outcome,
    Replay,
    StoredResponse,
    StoreUnavailable,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    token TEXT,              -- while a request holds the key
    lease_until REAL NOT NULL DEFAULT 0,
    expires REAL NOT NULL,
    status INTEGER,          -- the answer, once there is one
    media_type TEXT,
    body BLOB,
    settled INTEGER
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expires ON idempotency_keys (expires);
"""


class SqliteStore:
    def __init__(
        self,
        path: str | Path,
        *,
        ttl: float,
        lease: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = str(path)
        self.ttl = ttl
        self.lease = lease
        self._clock = clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    async def begin(self, key: str, fingerprint: str) -> Outcome:
        return await self._run(lambda db: self._begin(db, key, fingerprint))

    async def finish(self, key: str, begun: Begun, response: StoredResponse) -> None:
        def finish(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT token FROM idempotency_keys WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] != begun.token:
                return  # our lease ran out and another attempt holds the key: it decides
            db.execute(
                "INSERT OR REPLACE INTO idempotency_keys (key, fingerprint, token,"
                " lease_until, expires, status, media_type, body, settled)"
                " VALUES (?, ?, NULL, 0, ?, ?, ?, ?, ?)",
                (
                    key,
                    begun.fingerprint,
                    self._clock() + self.ttl,
                    response.status,
                    response.media_type,
                    response.body,
                    int(response.settled),
                ),
            )

        await self._run(finish)

    async def abandon(self, key: str, begun: Begun) -> None:
        def abandon(db: sqlite3.Connection) -> None:
            if begun.resume:  # still resumable: the next request re-reads the jobs
                db.execute(
                    "UPDATE idempotency_keys SET token = NULL, lease_until = 0"
                    " WHERE key = ? AND token = ?",
                    (key, begun.token),
                )
            else:
                db.execute(
                    "DELETE FROM idempotency_keys WHERE key = ? AND token = ?", (key, begun.token)
                )

        await self._run(abandon)

    def describe(self) -> str:
        return f"sqlite:{self.path}"

    async def aclose(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _begin(self, db: sqlite3.Connection, key: str, fingerprint: str) -> Outcome:
        now = self._clock()
        db.execute("DELETE FROM idempotency_keys WHERE expires <= ?", (now,))
        row = db.execute(
            "SELECT fingerprint, token, lease_until, status, media_type, body, settled"
            " FROM idempotency_keys WHERE key = ?",
            (key,),
        ).fetchone()
        token = secrets.token_hex(16)
        if row is None:
            db.execute(
                "INSERT INTO idempotency_keys (key, fingerprint, token, lease_until, expires)"
                " VALUES (?, ?, ?, ?, ?)",
                (key, fingerprint, token, now + self.lease, now + self.ttl),
            )
            return Begun(token, fingerprint)
        stored_fingerprint, _, lease_until, status, media_type, body, settled = row
        if stored_fingerprint != fingerprint:
            return Mismatch()
        if status is None and now < lease_until:
            return InFlight()
        if status is not None and settled:
            return Replay(StoredResponse(status, bytes(body), media_type, True))
        # Its request died, or its answer left the outcome open: resume it.
        db.execute(
            "UPDATE idempotency_keys SET token = ?, lease_until = ?, expires = ?, status = NULL,"
            " media_type = NULL, body = NULL, settled = NULL WHERE key = ?",
            (token, now + self.lease, now + self.ttl, key),
        )
        return Begun(token, fingerprint, resume=True)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.to_thread(self._transaction, work)

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock:
            try:
                db = self._connect()
                db.execute("BEGIN IMMEDIATE")
                try:
                    result = work(db)
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
            # Switching to WAL needs the file to itself: SQLite answers "locked" at once, without
            # waiting, while another worker sets it up too. Each worker tries until it is done.
            for attempt in range(100):
                try:
                    connection.execute("PRAGMA journal_mode=WAL")
                    connection.executescript(_SCHEMA)
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or attempt == 99:
                        connection.close()
                        raise
                    time.sleep(0.01)
            self._connection = connection
        return self._connection
