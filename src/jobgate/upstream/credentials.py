"""How a source's calls are authorised: a fixed token, or one that renews itself.

``Channel`` asks its ``Credentials`` for a token before every call (``current`` answers
without waiting while the token is good), signs the call with it, and when the upstream refuses
the token (``refused``: a 401, or the vendor's own words for it) asks ``renew`` for a new one and
repeats the call once - a write too, since a refused token means the upstream did nothing.

``RenewingToken`` holds one token per source and renews it before it expires (in the background
while the old one is still good, so no caller waits), and only one renewal runs at a time: every
caller that needs a token meanwhile waits for that one. How a token is obtained is a ``Grant``
(``grants.py``: client credentials, password and refresh token, Salesforce's two-step exchange);
a failed token request is UNAUTHENTICATED when the credentials were refused and
UPSTREAM_UNAVAILABLE / UPSTREAM_TIMEOUT when the token endpoint could not answer, with the
vendor's words and never a secret.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Protocol

import httpx

from jobgate import redaction
from jobgate.domain import JobFailure

log = logging.getLogger("jobgate.upstream")

# Renew this long before the upstream's expiry: at most a minute, at most a tenth of the life.
MAX_MARGIN = 60.0
MARGIN_SHARE = 0.1
# Tokens obtained earlier stay secret too: an upstream may quote one after it was replaced.
REMEMBERED_TOKENS = 8


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires_at: float = math.inf  # on the gateway's monotonic clock
    base_url: str | None = None  # where the token is valid, when the grant says (Data Cloud)


Grant = Callable[[], Awaitable[Token]]
Sign = Callable[[MutableMapping[str, str], str], None]
Refused = Callable[[httpx.Response], bool]


def bearer(headers: MutableMapping[str, str], value: str) -> None:
    headers["Authorization"] = f"Bearer {value}"


def refused_401(response: httpx.Response) -> bool:
    return response.status_code == 401


def renew_margin(lifetime: float) -> float:
    return min(MAX_MARGIN, lifetime * MARGIN_SHARE)


class Credentials(Protocol):
    def current(self) -> Token | None:
        """A token good to use now, or None when the caller must wait for ``token``."""
        ...

    async def token(self) -> Token:
        """A good token, obtaining one if needed; a failure raises ``JobFailure``."""
        ...

    async def renew(self, refused: Token) -> Token | None:
        """A token other than ``refused`` (which the upstream just refused), or None when no
        other can be had (a fixed token)."""
        ...

    def sign(self, headers: MutableMapping[str, str], token: Token) -> None: ...

    def refused(self, response: httpx.Response) -> bool:
        """Whether ``response`` refuses the token that signed the call."""
        ...

    def secrets(self) -> Iterable[str]:
        """Every credential value that must never leave the gateway (tokens obtained included)."""
        ...


class FixedToken:
    """A token from the config file: used as it is, never renewed."""

    def __init__(self, value: str, *, sign: Sign = bearer, refused: Refused = refused_401) -> None:
        self._token = Token(value)
        self._sign = sign
        self._refused = refused

    def current(self) -> Token:
        return self._token

    async def token(self) -> Token:
        return self._token

    async def renew(self, refused: Token) -> Token | None:
        return None

    def sign(self, headers: MutableMapping[str, str], token: Token) -> None:
        self._sign(headers, token.value)

    def refused(self, response: httpx.Response) -> bool:
        return self._refused(response)

    def secrets(self) -> Iterable[str]:
        return (self._token.value,)


class RenewingToken:
    """One token per source, obtained by ``grant`` and renewed before it expires."""

    def __init__(
        self,
        source: str,
        grant: Grant,
        *,
        secrets: Iterable[str] = (),
        sign: Sign = bearer,
        refused: Refused = refused_401,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self._grant = grant
        self._configured = tuple(secrets)
        self._sign = sign
        self._refused = refused
        self._clock = clock
        self._token: Token | None = None
        self._renew_at = 0.0
        self._renewal: asyncio.Task[Token] | None = None
        self._issued: deque[str] = deque(maxlen=REMEMBERED_TOKENS)
        self.renewals = 0  # tokens obtained since start (tests and metrics read it)

    def current(self) -> Token | None:
        token = self._token
        if token is None:
            return None
        now = self._clock()
        if now < self._renew_at:
            return token
        if now < token.expires_at:
            self._start_renewal()  # in the background: the old token is still good
            return token
        return None

    async def token(self) -> Token:
        return self.current() or await self._wait_for_renewal()

    async def renew(self, refused: Token) -> Token | None:
        if self._token is not None and self._token.value != refused.value:
            return self._token  # somebody renewed it meanwhile
        self._token = None
        return await self._wait_for_renewal()

    def sign(self, headers: MutableMapping[str, str], token: Token) -> None:
        self._sign(headers, token.value)

    def refused(self, response: httpx.Response) -> bool:
        return self._refused(response)

    def secrets(self) -> Iterable[str]:
        return (*self._configured, *self._issued)

    async def _wait_for_renewal(self) -> Token:
        # Shielded: one caller giving up (its request timed out) must not cancel the renewal
        # every other caller waits for.
        return await asyncio.shield(self._start_renewal())

    def _start_renewal(self) -> asyncio.Task[Token]:
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.create_task(self._obtain())
            self._renewal.add_done_callback(_retrieve)
        return self._renewal

    async def _obtain(self) -> Token:
        started = self._clock()
        try:
            token = await self._grant()
        except JobFailure as failure:
            log.warning(
                "token request failed",
                extra={"source": self.source, "code": failure.error.code.value},
            )
            raise
        if len(self._issued) == REMEMBERED_TOKENS:
            redaction.secrets().discard(
                self._issued[0]
            )  # long replaced: no upstream quotes it any more
        self._issued.append(token.value)
        redaction.secrets().add(token.value)
        self._token = token
        lifetime = token.expires_at - started
        self._renew_at = token.expires_at - renew_margin(lifetime)
        self.renewals += 1
        log.info("token obtained", extra={"source": self.source, "expires_in_s": round(lifetime)})
        return token


def _retrieve(task: asyncio.Task[Token]) -> None:
    """A background renewal's failure is logged by ``_obtain``; here it is only collected."""
    if not task.cancelled():
        task.exception()
