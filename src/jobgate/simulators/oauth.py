"""What the simulated vendors share about tokens: who may have one, which are valid, for how long.

Each simulator serves its vendor's own token endpoint and error bodies; this keeps the book.
Tokens a simulator issues expire after ``lifetime`` seconds (tests set it short, to watch the
gateway renew); tokens named in ``fixed`` (what a config file's ``token`` holds) never do.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from starlette.requests import Request

FORM = "application/x-www-form-urlencoded"


@dataclass
class TokenBook:
    lifetime: float = 3600.0
    fixed: set[str] = field(default_factory=set)
    issued: dict[str, float] = field(default_factory=dict)  # token -> when it expires
    requests: int = 0  # token requests answered with a token
    clock: Callable[[], float] = time.monotonic

    def issue(self, prefix: str) -> str:
        token = prefix + secrets.token_urlsafe(24)
        self.issued[token] = self.clock() + self.lifetime
        self.requests += 1
        return token

    def valid(self, token: str | None) -> bool:
        if token is None:
            return False
        if token in self.fixed:
            return True
        expires = self.issued.get(token)
        return expires is not None and self.clock() < expires

    def expire_all(self) -> None:
        """Every issued token expires now (fixed ones stay)."""
        for token in self.issued:
            self.issued[token] = 0.0


async def form_of(request: Request) -> dict[str, str] | None:
    """A token request's form fields, or None when it is not form-encoded."""
    if not request.headers.get("content-type", "").startswith(FORM):
        return None
    return dict(parse_qsl((await request.body()).decode("utf-8", "replace")))


def same_secret(expected: str | None, given: str | None) -> bool:
    return expected is not None and given is not None and secrets.compare_digest(expected, given)


def seconds(lifetime: float) -> int | float:
    """``expires_in`` as vendors send it: whole seconds (tests use fractions, sent as they are)."""
    return int(lifetime) if float(lifetime).is_integer() else lifetime
