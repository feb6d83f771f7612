"""How each vendor hands out access tokens (PROVIDERS.md §5): the ``Grant`` of a ``RenewingToken``.

* ``client_credentials``: BigChange and ArcGIS (Workflow Manager) OAuth apps.
* ``password_then_refresh``: Content Hub's password grant, renewed with its refresh token (the
  password grant again when the refresh token is refused).
* ``salesforce_exchange``: Data Cloud's two steps - a Salesforce token (client credentials, or
  the JWT bearer flow with a private key) exchanged at ``<instance>/services/a360/token`` for a
  Data Cloud token, whose ``instance_url`` is where the Ingestion API lives. Every exchange uses
  a fresh Salesforce token: Salesforce exchanges one only once.

Token requests go straight to the source's transport, outside the guarded channel: a failure
there happens before any job request is sent, so it is reported as what it is and never
mistaken for a write whose answer was lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import orjson

from jobgate.config import SourceSettings
from jobgate.domain import ErrorCode, JobError, JobFailure
from jobgate.logs import request_id_var
from jobgate.telemetry import call_span
from jobgate.upstream.credentials import (
    Credentials,
    FixedToken,
    Grant,
    Refused,
    RenewingToken,
    Sign,
    Token,
    bearer,
    refused_401,
)
from jobgate.upstream.errors import clip, code_for_status, read_problem

DEFAULT_LIFETIME = 3600.0
EXCHANGE_GRANT = "urn:salesforce:grant-type:external:cdp"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = 180  # seconds an assertion is valid for (Salesforce allows at most 3 minutes)
_TIMEOUT_KINDS = ("connect", "read", "write", "pool")
# Token endpoints answer refused credentials with these (RFC 6749 §5.2 uses 400 and 401).
_REFUSALS = frozenset({400, 401, 403})
# ArcGIS puts its error object in a 200 (or a 400): codes that mean "these credentials, no".
_REFUSED_CODES = frozenset({400, 401, 403, 498, 499})


class TokenEndpoint:
    """Form-encoded POSTs to one token URL: a 2xx JSON object, or a ``JobFailure`` saying why."""

    def __init__(
        self,
        source: str,
        url: str,
        transport: httpx.AsyncBaseTransport,
        *,
        timeout: float,
    ) -> None:
        self.source = source
        self.url = url
        self.transport = transport
        self.timeout = timeout

    async def post(
        self, form: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        sent = {"Accept": "application/json", **(headers or {})}
        if (request_id := request_id_var.get()) is not None:
            sent["X-Request-Id"] = request_id
        where = urlsplit(self.url)
        span = call_span(
            self.source,
            "POST",
            where.path or "/",
            operation="token",
            attempt=1,
            renewed=False,
            server=where.hostname or "",
        )
        status: int | str = "transport-error"
        try:
            response = await self._send(form, sent if span is None else span.headers(sent))
            status = response.status_code
        except JobFailure as exc:
            status = "timeout" if exc.error.code is ErrorCode.UPSTREAM_TIMEOUT else status
            raise
        finally:
            if span is not None:
                span.finish(status)
        return self._body(response)

    async def _send(self, form: Mapping[str, str], headers: Mapping[str, str]) -> httpx.Response:
        request = httpx.Request(
            "POST",
            self.url,
            data=dict(form),
            headers=headers,
            extensions={"timeout": dict.fromkeys(_TIMEOUT_KINDS, self.timeout)},
        )
        try:
            async with asyncio.timeout(self.timeout):
                response = await self.transport.handle_async_request(request)
                try:
                    await response.aread()
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            what = f"did not answer within {self.timeout:g} s"
            raise self.failure(ErrorCode.UPSTREAM_TIMEOUT, what) from None
        except httpx.HTTPError as exc:
            reason = clip(str(exc) or type(exc).__name__, 200)
            raise self.failure(ErrorCode.UPSTREAM_UNAVAILABLE, f"failed: {reason}") from None
        return response

    def _body(self, response: httpx.Response) -> dict[str, Any]:
        if not 200 <= response.status_code < 300:
            raise JobFailure(self._refusal(response))
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            raise self.failure(ErrorCode.UPSTREAM_UNAVAILABLE, "answered with no JSON object")
        if isinstance(body.get("error"), dict):  # ArcGIS: an error object inside a 200
            raise JobFailure(self._refusal(response))
        return body

    def at(self, url: str) -> TokenEndpoint:
        """The same source's token requests, to another URL."""
        return TokenEndpoint(self.source, url, self.transport, timeout=self.timeout)

    def failure(self, code: ErrorCode, what: str) -> JobFailure:
        message = f"Source '{self.source}': the access-token request to {self.url} {what}."
        return JobFailure(JobError(code, message))

    def _refusal(self, response: httpx.Response) -> JobError:
        status = response.status_code
        oauth_code, words = _oauth_error(response)
        arcgis = _arcgis_code(response)
        if words is None:
            problem = read_problem(response)
            words, oauth_code = problem.message, oauth_code or problem.upstream_code
        if status in _REFUSALS or arcgis in _REFUSED_CODES:
            code = ErrorCode.UNAUTHENTICATED
        else:
            code = code_for_status(status)
            if code is ErrorCode.VALIDATION_FAILED:
                code = ErrorCode.UNAUTHENTICATED
        message = words or f"Source '{self.source}' answered the token request with HTTP {status}."
        return JobError(
            code,
            message,
            upstream_status=status,
            upstream_code=oauth_code,
            detail=f"While obtaining an access token from {self.url}.",
        )


def _oauth_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """RFC 6749 ``{"error": .., "error_description": ..}``, or ArcGIS's ``{"error": {..}}``:
    (code, words)."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):  # ArcGIS: {"error": {"code": 400, "error": .., "message": ..}}
        body, error = error, error.get("error")
    if not isinstance(error, str):
        return None, None
    code = clip(error, 100)
    description = body.get("error_description") or body.get("message")
    words = clip(description) if isinstance(description, str) and description.strip() else code
    return code, words


def _arcgis_code(response: httpx.Response) -> int | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def issued(
    endpoint: TokenEndpoint, body: Mapping[str, Any], started: float, base_url: str | None = None
) -> Token:
    """The token in a token endpoint's answer; it expires ``expires_in`` after ``started``."""
    value = body.get("access_token")
    if not isinstance(value, str) or not value:
        raise endpoint.failure(ErrorCode.UPSTREAM_UNAVAILABLE, "answered without an access_token")
    lifetime = body.get("expires_in", DEFAULT_LIFETIME)
    if isinstance(lifetime, str) and lifetime.isdigit():
        lifetime = int(lifetime)
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        lifetime = DEFAULT_LIFETIME
    return Token(value, started + float(lifetime), base_url)


def client_credentials(
    endpoint: TokenEndpoint,
    client_id: str,
    client_secret: str,
    *,
    extra: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Grant:
    form = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
        **(extra or {}),
    }

    async def grant() -> Token:
        started = clock()
        return issued(endpoint, await endpoint.post(form), started)

    return grant


def password_then_refresh(
    endpoint: TokenEndpoint,
    *,
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
    clock: Callable[[], float] = time.monotonic,
) -> Grant:
    client = {"client_id": client_id, "client_secret": client_secret}
    refresh: list[str] = []  # the refresh token of the last grant, if it gave one

    async def grant() -> Token:
        started = clock()
        body: dict[str, Any] | None = None
        if refresh:
            form = {"grant_type": "refresh_token", "refresh_token": refresh[0], **client}
            try:
                body = await endpoint.post(form)
            except JobFailure as failure:
                if failure.error.code is not ErrorCode.UNAUTHENTICATED:
                    raise
                refresh.clear()  # refused or expired: the password grant starts afresh
        if body is None:
            form = {"grant_type": "password", "username": username, "password": password}
            body = await endpoint.post({**form, **client})
        renewal = body.get("refresh_token")
        refresh[:] = [renewal] if isinstance(renewal, str) and renewal else refresh[:1]
        return issued(endpoint, body, started)

    return grant


def salesforce_exchange(
    login: TokenEndpoint,
    *,
    client_id: str,
    client_secret: str | None,
    private_key: str | None = None,
    username: str | None = None,
    audience: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Grant:
    """The Salesforce token (client credentials, or a JWT bearer assertion signed with
    ``private_key`` for ``username``), then the Data Cloud token it is exchanged for."""

    def core_form() -> dict[str, str]:
        if private_key is not None:
            claims = {
                "iss": client_id,
                "sub": username,
                "aud": audience or login.url.split("/services/", 1)[0],
                "exp": int(time.time()) + JWT_LIFETIME,
            }
            assertion = jwt.encode(claims, private_key, algorithm="RS256")
            return {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}
        assert client_secret is not None
        return {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
        }

    async def grant() -> Token:
        started = clock()
        core = await login.post(core_form())
        core_token, instance = core.get("access_token"), core.get("instance_url")
        if not isinstance(core_token, str) or not isinstance(instance, str) or not instance:
            raise login.failure(
                ErrorCode.UPSTREAM_UNAVAILABLE, "answered without an access_token or instance_url"
            )
        exchange = login.at(f"{origin(instance)}/services/a360/token")
        form = {
            "grant_type": EXCHANGE_GRANT,
            "subject_token": core_token,
            "subject_token_type": ACCESS_TOKEN_TYPE,
        }
        body = await exchange.post(form)
        tenant = body.get("instance_url")
        if not isinstance(tenant, str) or not tenant:
            raise exchange.failure(ErrorCode.UPSTREAM_UNAVAILABLE, "answered without instance_url")
        return issued(exchange, body, started, base_url=origin(tenant))

    return grant


def origin(instance_url: str) -> str:
    """An instance URL as a base URL: Salesforce sends Data Cloud's without a scheme."""
    instance_url = instance_url.strip().rstrip("/")
    return instance_url if "://" in instance_url else f"https://{instance_url}"


def credentials_for(
    settings: SourceSettings,
    transport: httpx.AsyncBaseTransport,
    token_url: str,
    make_grant: Callable[[TokenEndpoint], Grant],
    *,
    sign: Sign = bearer,
    refused: Refused = refused_401,
) -> Credentials:
    """A source's credentials: its fixed ``token``, or a self-renewing token that
    ``make_grant`` obtains from the source's token endpoint at ``token_url``."""
    if not settings.renews_tokens:
        assert settings.token is not None  # config requires one or the other
        return FixedToken(settings.token, sign=sign, refused=refused)
    endpoint = TokenEndpoint(settings.name, token_url, transport, timeout=settings.timeout)
    return RenewingToken(
        settings.name, make_grant(endpoint), secrets=settings.secrets(), sign=sign, refused=refused
    )
