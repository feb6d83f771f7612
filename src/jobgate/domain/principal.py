"""Who is calling, and what they may do: the caller's Principal and the scopes it can hold."""

from __future__ import annotations

from dataclasses import dataclass

READ = "jobs:read"
WRITE = "jobs:write"


@dataclass(frozen=True, slots=True)
class Principal:
    name: str  # for log lines: an API key's name, "jwt:<subject>", "anonymous"
    scopes: frozenset[str]
    sources: frozenset[str] | None = None  # None: every source
    # Who this is, as no other caller can be: "key:<name>", "jwt:<issuer>:<subject>", or a
    # digest of the token itself when it names no subject. Defaults to ``name``.
    identity: str = ""

    def can(self, scope: str) -> bool:
        return scope in self.scopes

    def may_use(self, source: str) -> bool:
        return self.sources is None or source in self.sources

    @property
    def authority(self) -> str:
        """The identity together with what it may do: two credentials of one subject with
        other scopes or sources are two callers (an Idempotency-Key answered for one must
        never be replayed to the other)."""
        sources = "*" if self.sources is None else ",".join(sorted(self.sources))
        scopes = ",".join(sorted(self.scopes))
        return f"{self.identity or self.name}|{scopes}|{sources}"


# The demo and any gateway without [auth] configured: open, and says so at startup.
ANONYMOUS = Principal(name="anonymous", scopes=frozenset({READ, WRITE}))
