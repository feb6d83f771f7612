"""ASGI pieces around the routes: record the caller's Principal first; mask HTTP-layer failures.

Authentication is a middleware, not part of the GraphQL handler, so that everything behind it
(the Idempotency-Key guard, the handler, the resolvers) reads one Principal with
``principal_of(request)``.
"""

from __future__ import annotations

import logging

import orjson
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from jobgate.domain.principal import ANONYMOUS, Principal
from jobgate.logs import request_id_var
from jobgate.web.auth import Authenticator, AuthError
from jobgate.web.endpoint import request_id_of

log = logging.getLogger("jobgate.auth")

# What a request that skipped authentication may do: nothing. Recorded instead of leaving
# the state empty, because principal_of() falls back to the open gateway's ANONYMOUS.
NOBODY = Principal(name="unauthenticated", scopes=frozenset(), sources=frozenset())


class AuthMiddleware:
    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.paths = paths or frozenset({"/graphql"})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.authenticator.enabled:
            # An open gateway. (Clients cannot write scope["state"]; code in front of this
            # middleware can, and tests use that to act as a caller.)
            state.setdefault("principal", ANONYMOUS)
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if _is_ide_page(scope, headers):
            # The GraphiQL page is static and a browser cannot add headers to a navigation;
            # the page itself sends the credential the user types in with each query.
            state["principal"] = NOBODY
            await self.app(scope, receive, send)
            return
        try:
            state["principal"] = self.authenticator.authenticate(headers)
        except AuthError as exc:
            request_id = request_id_of(Request(scope))
            token = request_id_var.set(request_id)
            try:
                log.info("authentication refused: %s", exc.message)
            finally:
                request_id_var.reset(token)
            response = _error(401, exc.message, "UNAUTHENTICATED", request_id)
            response.headers["WWW-Authenticate"] = exc.challenge
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _is_ide_page(scope: Scope, headers: Headers) -> bool:
    has_credential = "authorization" in headers or "x-api-key" in headers
    return (
        not has_credential
        and scope["method"] == "GET"
        and "text/html" in headers.get("accept", "")
        and "query" not in QueryParams(scope.get("query_string", b""))
    )


async def internal_error(request: Request, exc: Exception) -> Response:
    """Starlette's last-resort handler: a JSON 500 with a request id, the details in the log."""
    request_id = request.scope.get("state", {}).get("request_id") or request_id_of(request)
    token = request_id_var.set(request_id)
    try:
        log.error("unhandled error in the HTTP layer", exc_info=exc)
    finally:
        request_id_var.reset(token)
    return _error(500, f"Internal error (request id {request_id}).", "INTERNAL", request_id)


def _error(status: int, message: str, code: str, request_id: str) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code, "requestId": request_id}}]}
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers={"X-Request-Id": request_id},
    )
