"""One source's HTTP channel: what adapters call, and how a failure becomes a contract error.

Every call is signed with the source's current token (``credentials.py``) and goes through
``CallGuard`` (calls.py): a circuit breaker, a wait for one of the source's concurrency slots
bounded by the request's deadline, a per-attempt timeout, and retries of reads that failed with a
connect error, 429 or 502/503/504. Writes are never retried: one that fails after it may have
reached the upstream (a timeout, a dropped connection) raises ``WriteUncertain`` so that the
adapter reads the job back instead of guessing. The one repeat of any call, a write included, is
after the upstream refused the token: it did nothing, the token is renewed, the call goes again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

import httpx
import orjson

from jobgate.config import SourceSettings
from jobgate.domain import ErrorCode, JobError, JobFailure
from jobgate.internals.httpx import UpstreamClient
from jobgate.logs import request_id_var
from jobgate.telemetry import RouteTemplates
from jobgate.upstream.credentials import Credentials
from jobgate.upstream.errors import error_from_response
from jobgate.upstream.guard import Call, CallGuard, WriteUncertain
from jobgate.upstream.resilience import CircuitBreaker

__all__ = ["Channel", "WriteUncertain", "build_channel", "collect_channels"]

log = logging.getLogger("jobgate.upstream")

_channels: ContextVar[list[Channel] | None] = ContextVar("jobgate_channels", default=None)


@contextlib.contextmanager
def collect_channels() -> Iterator[list[Channel]]:
    """Every ``Channel`` built inside this block, so the app can report their breakers."""
    found: list[Channel] = []
    token = _channels.set(found)
    try:
        yield found
    finally:
        _channels.reset(token)


class Channel:
    """Every call a provider adapter makes to its upstream goes through here: signed with the
    source's credentials, sent by its ``CallGuard``, its answer read or mapped to an error."""

    def __init__(self, guard: CallGuard, *, credentials: Credentials | None = None) -> None:
        self.guard = guard
        self.source = guard.source
        self.credentials = credentials  # None: calls go unsigned (the client's headers only)
        if (collecting := _channels.get()) is not None:
            collecting.append(self)

    @property
    def client(self) -> UpstreamClient:
        return self.guard.client

    @property
    def breaker(self) -> CircuitBreaker:
        return self.guard.breaker

    async def aclose(self) -> None:
        await self.guard.client.aclose()

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
        credentials = self.credentials
        if credentials is None:
            call = Call(method, path, operation, params=params, content=content, headers=headers)
            return await self.guard.send(call)
        # A token failure raises here, before anything is sent.
        token = credentials.current() or await credentials.token()
        if token.base_url is not None:
            self.guard.rebase(token.base_url)
        credentials.sign(headers, token)
        call = Call(method, path, operation, params=params, content=content, headers=headers)
        response = await self.guard.send(call)
        if not credentials.refused(response):
            return response
        fresh = await credentials.renew(token)
        if fresh is None:  # a fixed token: nothing else to try
            return response
        log.info(
            "token refused, renewed and the call repeated",
            extra={"source": self.source, "method": method, "path": path},
        )
        if fresh.base_url is not None:
            self.guard.rebase(fresh.base_url)
        signed = dict(headers)
        credentials.sign(signed, fresh)
        return await self.guard.send(replace(call, headers=signed, renewed=True))

    def error(self, response: httpx.Response, code: ErrorCode | None = None) -> JobError:
        """The contract error for a non-success answer, in the upstream's words (credentials
        it quotes are removed where text leaves the gateway: ``jobgate.redaction``)."""
        return error_from_response(self.source, response, code)

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


def build_channel(
    settings: SourceSettings,
    transport: httpx.AsyncBaseTransport,
    *,
    headers: Mapping[str, str] | None = None,
    credentials: Credentials | None = None,
    routes: Sequence[str] = (),
) -> Channel:
    """The one way an adapter gets its client: base URL, timeouts, limits, retries, secrets.

    ``routes``: the adapter's path templates (``/jobs/{id}``), which name its calls' spans."""
    client = UpstreamClient(
        base_url=settings.base_url,
        transport=transport,
        headers=dict(headers or {}),
        timeout=httpx.Timeout(settings.timeout, connect=settings.connect_timeout),
        follow_redirects=False,
    )
    guard = CallGuard(
        settings.name,
        client,
        timeout=settings.timeout,
        max_concurrency=settings.max_concurrency,
        retries=settings.retries,
        breaker_failures=settings.breaker_failures,
        breaker_cooldown=settings.breaker_cooldown,
        routes=RouteTemplates(routes),
    )
    return Channel(guard, credentials=credentials)
