"""Who is calling: set on the request by client authentication, read by everything after it."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

READ = "jobs:read"
WRITE = "jobs:write"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    scopes: frozenset[str]
    sources: frozenset[str] | None = None  # None: every source

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    def may_use(self, source: str) -> bool:
        return self.sources is None or source in self.sources


# The demo and any gateway without [auth] configured: open, and says so at startup.
ANONYMOUS = Principal(name="anonymous", scopes=frozenset({READ, WRITE}))


def principal_of(connection: HTTPConnection) -> Principal:
    """The caller as authentication recorded it (``scope["state"]["principal"]``)."""
    found = connection.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else ANONYMOUS
