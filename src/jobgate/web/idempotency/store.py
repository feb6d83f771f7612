"""The idempotency store's interface: claim a key, then record the answer or release the key.

Both stores (``memory.py``, ``redis.py``) implement ``IdempotencyStore``; the guard
(``guard.py``) is the only caller. Keys arrive already scoped to the caller (see ``scoped_key``).

A key's record lives for the TTL whatever becomes of its request. While the request runs, the
record holds a lease; a record whose lease ran out without an answer (its process died, or the
request was cancelled) is not a free key: the earlier attempt may have applied the change, so
the next request with the key *resumes* it (``Begun.resume``), reading the jobs before writing.
An answer that does not settle what happened (``OUTCOME_UNKNOWN``, the request's deadline) is
kept as unsettled and resumed the same way, instead of being replayed forever.
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
    # False when the answer left the outcome open (OUTCOME_UNKNOWN, a deadline): not replayed,
    # the next request with the key resumes instead.
    settled: bool = True


@dataclass(frozen=True, slots=True)
class Begun:
    """This request now holds the key; ``token`` proves it to ``finish`` and ``abandon``.

    The token matters when an in-flight marker outlives its lease and another attempt claims
    the key: the late first attempt must then not overwrite or delete the second one's marker.
    """

    token: str
    fingerprint: str
    # An earlier attempt under this key may have applied the change (it died, was cancelled, or
    # answered OUTCOME_UNKNOWN): read the jobs before writing anything.
    resume: bool = False


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
        """The request produced no answer worth keeping: release the key if still ours. A
        resumed key stays resumable (the attempt before it may still have applied the change)."""
        ...

    def describe(self) -> str:
        """Where the keys live, for log lines; never contains a password."""
        ...

    async def aclose(self) -> None: ...


def scoped_key(scope: str, key: str) -> str:
    """``<scope>:<key>``, the scope quoted so that no two (scope, key) pairs meet.

    Keys are printable ASCII and may contain ':'; quoting ':' in the scope keeps
    ``("a:b", "c")`` and ``("a", "b:c")`` apart.
    """
    return f"{quote(scope, safe='')}:{key}"
