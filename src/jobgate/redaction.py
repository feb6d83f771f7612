"""Every credential the gateway holds, and their removal from everything that leaves it.

Upstreams quote requests in their errors - a token in a 401's detail, a client secret in an OAuth
error, a value in a field name - and any field of an answer can carry what they quote. Rather
than scrub each field of each vendor's error shape, the gateway redacts by value, once, where
text leaves the process: every GraphQL answer (and so every stored Idempotency-Key answer),
every log line, every metric label a client can choose.

``secrets()`` is the process's registry: sources add their configured secrets when they are
built, ``RenewingToken`` adds each token it obtains and removes it once it is long replaced.
Values shorter than ``MIN_LENGTH`` are not redacted: they would mangle ordinary words.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable

import orjson

MIN_LENGTH = 8
MASK = "[redacted]"
_MASK_BYTES = MASK.encode()


class Secrets:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # the log formatter may run in other threads
        self._counts: dict[str, int] = {}
        self._texts: tuple[str, ...] = ()
        self._bytes: tuple[bytes, ...] = ()

    def add(self, *values: str | None) -> None:
        with self._lock:
            for value in values:
                if value is not None and len(value) >= MIN_LENGTH:
                    self._counts[value] = self._counts.get(value, 0) + 1
            self._rebuild()

    def discard(self, *values: str) -> None:
        with self._lock:
            for value in values:
                left = self._counts.get(value, 0) - 1
                if left > 0:
                    self._counts[value] = left
                else:
                    self._counts.pop(value, None)
            self._rebuild()

    def _rebuild(self) -> None:
        # Longest first, so that a secret containing another is masked whole.
        texts = sorted(self._counts, key=len, reverse=True)
        forms: dict[bytes, None] = {}
        for text in texts:
            forms[text.encode()] = None
            forms[orjson.dumps(text)[1:-1]] = None  # as it appears inside a JSON string
        self._texts = tuple(texts)
        self._bytes = tuple(forms)

    def text(self, text: str) -> str:
        for secret in self._texts:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def bytes(self, data: bytes) -> bytes:
        for secret in self._bytes:
            if secret in data:
                data = data.replace(secret, _MASK_BYTES)
        return data

    def found_in(self, text: str) -> bool:
        return any(secret in text for secret in self._texts)

    def __contains__(self, value: str) -> bool:
        return value in self._counts


@functools.cache
def secrets() -> Secrets:
    """This process's registry (one per process, like its metrics)."""
    return Secrets()


def register(values: Iterable[str | None]) -> None:
    secrets().add(*values)
