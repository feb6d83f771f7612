"""Automatic persisted queries (APQ, Apollo's protocol, which Apollo Client, urql and Relay speak):
a client sends ``extensions.persistedQuery = {version: 1, sha256Hash}`` instead of the document;
the first time, the gateway answers ``PERSISTED_QUERY_NOT_FOUND`` and the client sends the
document with its hash, which the gateway checks and keeps. From then on the hash is enough, on
POST and on GET (short URLs a CDN or a browser can cache).

Only where the document's text comes from changes: it is parsed, validated, limited and
authorised like any other. The store is this process's own, bounded by the bytes it holds
(``SizedLRU``); with ``--workers N`` a client may meet a worker that has not seen the hash yet,
which the protocol already handles (it sends the document again). ``[server]
persisted_queries = false`` answers ``PERSISTED_QUERY_NOT_SUPPORTED``, which tells clients to
stop trying.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from jobgate.lru import SizedLRU
from jobgate.web.params import BadRequest

# What the store may hold in all (document text, in bytes); one document is at most a body.
MAX_STORED_BYTES = 8_000_000
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
# Apollo's own messages: older clients match on the message, newer ones on the code.
NOT_FOUND = "PersistedQueryNotFound"
NOT_SUPPORTED = "PersistedQueryNotSupported"


class PersistedQueries:
    """hash -> document text, learnt from clients (``None`` store: APQ is off)."""

    def __init__(self, *, enabled: bool, max_document_bytes: int) -> None:
        self._store: SizedLRU[str, str] | None = (
            SizedLRU(max_cost=MAX_STORED_BYTES, max_entry_cost=max_document_bytes)
            if enabled
            else None
        )

    def __len__(self) -> int:
        return 0 if self._store is None else len(self._store)

    def resolve(self, query: Any, extensions: Any) -> Any:
        """The document to run: ``query`` itself, or the one its hash names. Raises BadRequest
        for a handshake that cannot go on (the caller's other checks see what this returns)."""
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            return query
        if self._store is None:
            raise BadRequest(200, NOT_SUPPORTED, code="PERSISTED_QUERY_NOT_SUPPORTED")
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise BadRequest(400, "Unsupported persisted query version: only version 1 is.")
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise BadRequest(400, "'persistedQuery.sha256Hash' must be 64 hexadecimal digits.")
        digest = digest.lower()
        if query is None:
            found = self._store.get(digest)
            if found is None:
                # 200, as Apollo Server answers: a client that gets a 4xx here stops using APQ.
                raise BadRequest(200, NOT_FOUND, code="PERSISTED_QUERY_NOT_FOUND")
            return found
        if not isinstance(query, str):
            return query  # the usual check says what is wrong with it
        if hashlib.sha256(query.encode(errors="surrogatepass")).hexdigest() != digest:
            raise BadRequest(400, "The persisted query's sha256Hash does not match its query.")
        self._store.put(digest, query, len(query))
        return query
