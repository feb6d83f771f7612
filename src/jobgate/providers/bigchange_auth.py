"""BigChange OAuth2 client credentials as an ``httpx.Auth``: one cached token, shared, refreshed.

The token request goes straight to the source's own transport rather than through the auth
flow's ``yield``: a failure there is then known to have happened before the job request was
sent, so it is reported as what it is (UNAUTHENTICATED, UPSTREAM_*) and never mistaken for a
write whose answer was lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Generator

import httpx
import orjson

from jobgate.domain import ErrorCode, JobError, JobFailure
from jobgate.providers.errors import clip, code_for_status, read_problem

log = logging.getLogger("jobgate.upstream")

# Refresh this long before the upstream's expiry: at most a minute, at most a tenth of the life.
MAX_MARGIN = 60.0
MARGIN_SHARE = 0.1
DEFAULT_LIFETIME = 3600.0
# httpx's per-request timeout extension, which real transports read.
_TIMEOUT_KINDS = ("connect", "read", "write", "pool")


def refresh_margin(expires_in: float) -> float:
    return min(MAX_MARGIN, expires_in * MARGIN_SHARE)


class BigChangeAuth(httpx.Auth):
    """Adds ``Authorization: Bearer`` and ``Customer-Id`` to every request.

    Concurrent callers share one token request (a lock); a 401 means the request was refused
    unprocessed, so the token is refreshed once and the request resent once.
    """

    def __init__(
        self,
        *,
        source: str,
        transport: httpx.AsyncBaseTransport,
        token_url: str,
        client_id: str,
        client_secret: str,
        customer_id: str,
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.transport = transport
        self.token_url = token_url
        self.customer_id = customer_id
        self.timeout = timeout
        self._form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }
        self._secret = client_secret
        self._clock = clock
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        # Earlier tokens stay secret too: an upstream may quote one after it was replaced.
        self._issued: deque[str] = deque(maxlen=8)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        raise RuntimeError("BigChangeAuth needs an httpx.AsyncClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        self._sign(request, token)
        response = yield request
        if response.status_code != 401:
            return
        self._sign(request, await self.token(refused=token))
        yield request

    def _sign(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Bearer {token}"
        request.headers["Customer-Id"] = self.customer_id

    async def token(self, *, refused: str | None = None) -> str:
        """A valid token; ``refused`` is one the upstream just answered 401 to."""
        current = self._current(refused)
        if current is not None:
            return current
        async with self._lock:
            # Whoever held the lock before us may already have fetched a new one.
            current = self._current(refused)
            if current is not None:
                return current
            return await self._fetch()

    def _current(self, refused: str | None) -> str | None:
        if self._token is None or self._token == refused or self._clock() >= self._refresh_at:
            return None
        return self._token

    def redact(self, text: str) -> str:
        for secret in (self._secret, *self._issued):
            if len(secret) >= 8:
                text = text.replace(secret, "[redacted]")
        return text

    async def _fetch(self) -> str:
        request = httpx.Request(
            "POST",
            self.token_url,
            data=self._form,
            headers={"Accept": "application/json"},
            extensions={"timeout": dict.fromkeys(_TIMEOUT_KINDS, self.timeout)},
        )
        started = self._clock()
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.transport.handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            raise self._failure(
                ErrorCode.UPSTREAM_TIMEOUT, f"did not answer within {self.timeout:g} s"
            ) from None
        except httpx.HTTPError as exc:
            reason = self.redact(clip(str(exc) or type(exc).__name__, 200))
            raise self._failure(ErrorCode.UPSTREAM_UNAVAILABLE, f"failed: {reason}") from None
        log.info(
            "token request",
            extra={"source": self.source, "status": response.status_code},
        )
        if response.status_code != 200:
            raise JobFailure(self._refusal(response))
        token, lifetime = self._parse(response)
        self._token = token
        self._issued.append(token)
        self._refresh_at = started + lifetime - refresh_margin(lifetime)
        return token

    def _failure(self, code: ErrorCode, what: str) -> JobFailure:
        return JobFailure(
            JobError(code, f"Source '{self.source}': the access-token request {what}.")
        )

    def _parse(self, response: httpx.Response) -> tuple[str, float]:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise self._failure(ErrorCode.UPSTREAM_UNAVAILABLE, "answered without an access_token")
        lifetime = body.get("expires_in", DEFAULT_LIFETIME) if isinstance(body, dict) else 0
        if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
            lifetime = DEFAULT_LIFETIME
        return token, float(lifetime)

    def _refusal(self, response: httpx.Response) -> JobError:
        status = response.status_code
        # 400 and 401 from a token endpoint (RFC 6749 §5.2) mean the credentials were refused.
        code = ErrorCode.UNAUTHENTICATED if status in (400, 401, 403) else code_for_status(status)
        if code is ErrorCode.VALIDATION_FAILED:
            code = ErrorCode.UNAUTHENTICATED
        oauth_code, words = _oauth_error(response)
        if words is None:
            problem = read_problem(response)
            words, oauth_code = problem.message, oauth_code or problem.upstream_code
        message = words or f"Source '{self.source}' answered the token request with HTTP {status}."
        return JobError(
            code,
            self.redact(message),
            upstream_status=status,
            upstream_code=oauth_code,
            detail=f"While fetching an access token from {self.token_url}.",
        )


def _oauth_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """RFC 6749 ``{"error": .., "error_description": ..}``: (code, words)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return None, None
    code = clip(body["error"], 100)
    description = body.get("error_description")
    words = clip(description) if isinstance(description, str) and description.strip() else code
    return code, words
