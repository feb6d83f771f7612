"""The absolute URL of an upstream call, from the source's base and the call's path."""

from __future__ import annotations

import functools
import re

import httpx

# Distinct paths whose httpx.URL is kept (paths that are not plain; see SourceUrls).
URL_CACHE_SIZE = 4096
# Unreserved characters and "/": a path httpx sends exactly as written (less dot segments).
_PLAIN_PATH = re.compile(r"[A-Za-z0-9._~/\-]*")


class SourceUrls:
    """``urls(path)``: the URL for ``path`` under ``base``.

    httpx merges a relative path into a base URL by parsing URLs in pure Python: ~35 us a
    call, the largest single cost of a read, and every cold job id is a new path. A path of
    unreserved characters without dot segments (every job read: native ids are
    ``[A-Za-z0-9][A-Za-z0-9_.-]*``) is sent as written, so its URL is the base as httpx writes
    it plus the path, as a string (tests/unit/test_upstream_client.py checks that they are the
    same). Any other path is parsed by httpx, once per distinct path (bounded).
    """

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")
        probe = str(httpx.URL(self.base + "/_"))  # the base as httpx writes it (host lowercased)
        self._prefix = probe[:-1] if probe.endswith("/_") else None
        self.parsed = functools.lru_cache(maxsize=URL_CACHE_SIZE)(self._parse)

    def __call__(self, path: str) -> httpx.URL | str:
        prefix = self._prefix
        if (
            prefix is not None
            and _PLAIN_PATH.fullmatch(path)
            and "/." not in path
            and path[:1] != "."
        ):
            return prefix + path.lstrip("/")
        return self.parsed(path)

    def _parse(self, path: str) -> httpx.URL:
        return httpx.URL(self.base + "/" + path.lstrip("/"))
