"""The idempotency store's interface: claim a key, then record the answer or release the key.

Both stores (``memory.py``, ``redis.py``) implement ``IdempotencyStore``; the HTTP guard
(``guard.py``) is the only caller. Keys arrive already scoped to the caller (see ``scoped_key``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The HTTP answer of a finished request, as it will be replayed."""

    status: int
    body: bytes
    media_type: str


@dataclass(frozen=True, slots=True)
class Begun:
    """This request now holds the key; ``token`` proves it to ``finish`` and ``abandon``.

    The token matters when an in-flight marker outlives its lease and another attempt claims
    the key: the late first attempt must then not overwrite or delete the second one's marker.
    """

    token: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Replay:
    """The key finished earlier with the same fingerprint: answer with ``response``."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class InFlight:
    """An earlier request with this key and fingerprint has not finished yet."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used with a different operation, variables or caller."""


Outcome = Begun | Replay | InFlight | Mismatch


class StoreUnavailable(Exception):
    """The store cannot be reached or read, so the idempotency guarantee cannot be given."""


class IdempotencyStore(Protocol):
    async def begin(self, key: str, fingerprint: str) -> Outcome:
        """Claim ``key`` for a new request, or say why it cannot be claimed."""
        ...

    async def finish(self, key: str, begun: Begun, response: StoredResponse) -> None:
        """Record the answer for ``ttl`` seconds, unless another attempt holds the key now."""
        ...

    async def abandon(self, key: str, begun: Begun) -> None:
        """Release the key (the request produced no answer worth keeping) if still ours."""
        ...

    def describe(self) -> str:
        """Where the keys live, for log lines; never contains a password."""
        ...

    async def aclose(self) -> None: ...


def scoped_key(principal: str, key: str) -> str:
    """``<principal>:<key>``, the principal quoted so that no two (principal, key) pairs meet.

    Keys are printable ASCII and may contain ':'; quoting ':' in the principal's name keeps
    ``("a:b", "c")`` and ``("a", "b:c")`` apart.
    """
    return f"{quote(principal, safe='')}:{key}"
