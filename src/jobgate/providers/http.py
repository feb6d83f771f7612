"""One source's HTTP channel: what adapters call, and how a failure becomes a contract error.

Every call goes through ``CallGuard`` (calls.py): a circuit breaker, a wait for one of the
source's concurrency slots bounded by the request's deadline, a per-attempt timeout, and retries
of reads that failed with a connect error, 429 or 502/503/504. Writes are never retried: one that
fails after it may have reached the upstream (a timeout, a dropped connection) raises
``WriteUncertain`` so that the adapter reads the job back instead of guessing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Unpack

import httpx
import orjson

from jobgate.config import SourceSettings
from jobgate.domain import ErrorCode, JobError, JobFailure
from jobgate.logs import request_id_var
from jobgate.providers.calls import Call, CallGuard, GuardOptions, WriteUncertain
from jobgate.providers.client import UpstreamClient
from jobgate.providers.errors import clip, error_from_response
from jobgate.providers.resilience import CircuitBreaker

__all__ = ["UpstreamHTTP", "WriteUncertain", "build_http", "collect_channels"]

_channels: ContextVar[list[UpstreamHTTP] | None] = ContextVar("jobgate_channels", default=None)


@contextlib.contextmanager
def collect_channels() -> Iterator[list[UpstreamHTTP]]:
    """Every ``UpstreamHTTP`` built inside this block, so the app can report their breakers."""
    found: list[UpstreamHTTP] = []
    token = _channels.set(found)
    try:
        yield found
    finally:
        _channels.reset(token)


class UpstreamHTTP:
    """Every call a provider adapter makes to its upstream goes through here."""

    def __init__(
        self,
        source: str,
        client: UpstreamClient,
        *,
        timeout: float,
        max_concurrency: int,
        secrets: Sequence[str] = (),
        **options: Unpack[GuardOptions],
    ) -> None:
        self.source = source
        self.client = client
        self.timeout = timeout
        # Redacting very short values would mangle ordinary words in upstream messages.
        self._secrets = tuple(s for s in secrets if len(s) >= 8)
        self.guard = CallGuard(
            source,
            client,
            timeout=timeout,
            max_concurrency=max_concurrency,
            describe=self._describe,
            **options,
        )
        if (collecting := _channels.get()) is not None:
            collecting.append(self)

    @property
    def breaker(self) -> CircuitBreaker:
        return self.guard.breaker

    async def aclose(self) -> None:
        await self.client.aclose()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> httpx.Response:
        return await self._send("GET", path, "read", params=params)

    async def search(self, path: str, *, json: Any) -> httpx.Response:
        """A POST that only reads (e.g. a search endpoint): retried like a GET."""
        return await self._send("POST", path, "search", json=json)

    async def write(self, method: str, path: str, *, json: Any = None) -> httpx.Response:
        """A call that changes something upstream: sent at most once."""
        return await self._send(method, path, "write", json=json)

    async def _send(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        content = None if json is None else orjson.dumps(json)
        headers: dict[str, str] = {}
        if content is not None:
            headers["Content-Type"] = "application/json"
        if (request_id := request_id_var.get()) is not None:
            headers["X-Request-Id"] = request_id
        call = Call(method, path, operation, params=params, content=content, headers=headers)
        return await self.guard.send(call)

    def _describe(self, exc: Exception) -> str:
        return self.redact(clip(str(exc) or type(exc).__name__, 200))

    def error(self, response: httpx.Response, code: ErrorCode | None = None) -> JobError:
        """The contract error for a non-success answer, with any credential scrubbed out."""
        error = error_from_response(self.source, response, code)
        return JobError(
            code=error.code,
            message=self.redact(error.message),
            upstream_status=error.upstream_status,
            upstream_code=error.upstream_code,
            detail=None if error.detail is None else self.redact(error.detail),
            field_errors=error.field_errors,
        )

    def json_object(self, response: httpx.Response) -> dict[str, Any]:
        """A success answer's body as a JSON object, or UPSTREAM_UNAVAILABLE if it is not one."""
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise JobFailure(
                JobError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"Source '{self.source}' answered HTTP {response.status_code} "
                    "with a body that is not a JSON object.",
                    upstream_status=response.status_code,
                )
            )
        return body


def build_http(
    settings: SourceSettings,
    transport: httpx.AsyncBaseTransport,
    *,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
) -> UpstreamHTTP:
    """The one way an adapter gets its client: base URL, timeouts, limits, retries, secrets."""
    client = UpstreamClient(
        base_url=settings.base_url,
        transport=transport,
        headers=dict(headers or {}),
        auth=auth,
        timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
        follow_redirects=False,
    )
    return UpstreamHTTP(
        settings.name,
        client,
        timeout=settings.timeout,
        max_concurrency=settings.max_concurrency,
        secrets=settings.secrets(),
        retries=settings.retries,
        breaker_failures=settings.breaker_failures,
        breaker_cooldown=settings.breaker_cooldown,
    )
