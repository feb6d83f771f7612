"""One source's HTTP channel: bounded concurrency, hard deadlines, failures as contract errors.

Reads and writes fail differently. A read that fails can be reported as it is. A write that fails
after it may have reached the upstream (a timeout, a dropped connection) raises ``WriteUncertain``
so that the adapter reads the job back instead of guessing; writes are never retried here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import orjson

from jobgate.config import SourceSettings
from jobgate.domain import ErrorCode, JobError, JobFailure
from jobgate.logs import request_id_var
from jobgate.providers.errors import clip, error_from_response

log = logging.getLogger("jobgate.upstream")


class WriteUncertain(JobFailure):
    """A write may have reached the upstream but no answer came back."""


class UpstreamHTTP:
    """Every call a provider adapter makes to its upstream goes through here."""

    def __init__(
        self,
        source: str,
        client: httpx.AsyncClient,
        *,
        timeout: float,
        max_concurrency: int,
        secrets: Sequence[str] = (),
    ) -> None:
        self.source = source
        self.client = client
        self.timeout = timeout
        self._slots = asyncio.Semaphore(max_concurrency)
        # Redacting very short values would mangle ordinary words in upstream messages.
        self._secrets = tuple(s for s in secrets if len(s) >= 8)

    async def aclose(self) -> None:
        await self.client.aclose()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    async def get(self, path: str, *, params: Mapping[str, str] | None = None) -> httpx.Response:
        return await self._send("GET", path, params=params, write=False)

    async def search(self, path: str, *, json: Any) -> httpx.Response:
        """A POST that only reads (e.g. a search endpoint): safe to treat like a GET."""
        return await self._send("POST", path, json=json, write=False)

    async def write(self, method: str, path: str, *, json: Any = None) -> httpx.Response:
        return await self._send(method, path, json=json, write=True)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        write: bool,
    ) -> httpx.Response:
        content = None if json is None else orjson.dumps(json)
        headers: dict[str, str] = {}
        if content is not None:
            headers["Content-Type"] = "application/json"
        if (request_id := request_id_var.get()) is not None:
            headers["X-Request-Id"] = request_id
        started = time.perf_counter()
        status: int | str = "error"
        try:
            async with self._slots:
                # asyncio.timeout also bounds in-process transports, which ignore httpx timeouts.
                async with asyncio.timeout(self.timeout):
                    response = await self.client.request(
                        method, path, params=params, content=content, headers=headers
                    )
            status = response.status_code
            return response
        except (TimeoutError, httpx.TimeoutException) as exc:
            status = "timeout"
            raise self._failure(exc, write, timed_out=True) from None
        except httpx.ConnectError as exc:
            # Connection never opened: nothing was sent, even for a write.
            status = "connect-error"
            raise JobFailure(
                JobError(
                    ErrorCode.UPSTREAM_UNAVAILABLE,
                    f"Source '{self.source}' could not be reached: {self._describe(exc)}",
                )
            ) from None
        except httpx.HTTPError as exc:
            status = "transport-error"
            raise self._failure(exc, write, timed_out=False) from None
        finally:
            log.info(
                "upstream call",
                extra={
                    "source": self.source,
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )

    def _describe(self, exc: Exception) -> str:
        return self.redact(clip(str(exc) or type(exc).__name__, 200))

    def _failure(self, exc: Exception, write: bool, *, timed_out: bool) -> JobFailure:
        what = (
            f"did not answer within {self.timeout:g} s" if timed_out else "dropped the connection"
        )
        if write:
            return WriteUncertain(
                JobError(
                    ErrorCode.OUTCOME_UNKNOWN,
                    f"Source '{self.source}' {what} after the change was sent; "
                    "it may or may not have been applied.",
                )
            )
        code = ErrorCode.UPSTREAM_TIMEOUT if timed_out else ErrorCode.UPSTREAM_UNAVAILABLE
        detail = "" if timed_out else f": {self._describe(exc)}"
        return JobFailure(JobError(code, f"Source '{self.source}' {what}{detail}."))

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
    """The one way an adapter gets its client: base URL, timeouts, limits, secrets."""
    client = httpx.AsyncClient(
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
    )
