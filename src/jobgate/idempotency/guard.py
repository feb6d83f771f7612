"""``Idempotency-Key`` on GraphQL mutations (Stripe's semantics), around the GraphQL endpoint.

A POST whose operation is a mutation and that carries the header runs at most once per
(caller, key) for the store's TTL: a repeat with the same operation and variables replays the
stored answer, a repeat with other input is refused (422), a repeat while the first still runs
is told to wait (409). Queries and requests without the header pass straight through.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive

from graphql import GraphQLError, OperationType, get_operation_ast, parse, print_ast
from jobgate.config import ServerSettings
from jobgate.graphql_http import request_id_of
from jobgate.idempotency.store import (
    Begun,
    IdempotencyStore,
    InFlight,
    Mismatch,
    Replay,
    StoredResponse,
    StoreUnavailable,
    scoped_key,
)
from jobgate.logs import request_id_var
from jobgate.principal import principal_of

log = logging.getLogger("jobgate.idempotency")

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"[\x20-\x7e]{1,255}")

Handler = Callable[[Request], Awaitable[Response]]


class IdempotencyGuard:
    """Wraps the GraphQL endpoint's handler; the store is ``app.state.idempotency``.

    It sits at the route, not in the middleware stack, so that client authentication (a
    middleware) has already recorded the principal that keys are scoped to.
    """

    def __init__(self, inner: Handler, server: ServerSettings) -> None:
        self.inner = inner
        self.server = server

    async def handle(self, request: Request) -> Response:
        if request.method != "POST" or HEADER not in request.headers:
            return await self.inner(request)
        request_id = request_id_of(request)
        token = request_id_var.set(request_id)
        try:
            return await self._guard(request, request_id)
        finally:
            request_id_var.reset(token)

    async def _guard(self, request: Request, request_id: str) -> Response:
        messages, complete = await _buffer(request.receive, self.server.max_body_bytes)
        # The endpoint reads the body again, and logs under the same request id.
        inner = _replaying(request, messages, request_id)
        body = b"".join(m.get("body", b"") for m in messages) if complete else None
        operation = _mutation(body, self.server.max_tokens) if body is not None else None
        if operation is None:
            # Not a mutation, or a request the endpoint will refuse before running anything.
            return await self.inner(inner)
        keys = request.headers.getlist(HEADER)
        if len(keys) != 1 or not _KEY.fullmatch(keys[0]):
            message = (
                "Send one Idempotency-Key header."
                if len(keys) != 1
                else "Idempotency-Key must be 1 to 255 printable ASCII characters."
            )
            return _error(400, message, "INVALID_IDEMPOTENCY_KEY", request_id)
        principal = principal_of(request).name
        fingerprint = _fingerprint(principal, *operation)
        key = scoped_key(principal, keys[0])
        store: IdempotencyStore = request.app.state.idempotency
        try:
            outcome = await store.begin(key, fingerprint)
        except StoreUnavailable as exc:
            log.error("idempotency store %s unavailable: %s", store.describe(), exc)
            message = "The idempotency store is unavailable, so the mutation was not run."
            return _error(503, message, "IDEMPOTENCY_UNAVAILABLE", request_id)
        if isinstance(outcome, Replay):
            return _replay(outcome.response, request_id)
        if isinstance(outcome, Mismatch):
            message = (
                "This Idempotency-Key was already used with a different operation or "
                "variables; use a new key for a new request."
            )
            return _error(422, message, "IDEMPOTENCY_KEY_REUSED", request_id)
        if isinstance(outcome, InFlight):
            message = "A request with this Idempotency-Key is still running; retry shortly."
            return _error(409, message, "IDEMPOTENCY_KEY_IN_USE", request_id, {"Retry-After": "1"})
        return await self._run(inner, store, key, outcome)

    async def _run(
        self, request: Request, store: IdempotencyStore, key: str, begun: Begun
    ) -> Response:
        try:
            response = await self.inner(request)
        except Exception:
            # An unexpected server error: no answer to keep, so the client may try again.
            # (A cancelled request keeps its marker until the lease ends: its write may
            # have been sent, and an immediate retry could repeat it.)
            await _release(store, key, begun)
            raise
        body = getattr(response, "body", None)
        if not isinstance(body, bytes | memoryview) or not _ran(response.status_code, body):
            await _release(store, key, begun)
            return response
        media_type = response.headers.get("content-type", "application/json")
        stored = StoredResponse(response.status_code, bytes(body), media_type)
        try:
            await store.finish(key, begun, stored)
        except StoreUnavailable as exc:
            # The mutation ran: its answer is the truth and is returned; only the replay is lost.
            log.error("idempotency store %s could not record an answer: %s", store.describe(), exc)
        return response


def _ran(status: int, body: bytes | memoryview) -> bool:
    """Whether the answer is the result of running the mutation, and so is kept for replay.

    Kept: any answer with ``data`` (its payload may carry a JobError, even OUTCOME_UNKNOWN:
    replaying that is the point), and the gateway's own deadline answer (UPSTREAM_TIMEOUT, 200
    or 504), whose write may have reached the upstream. Released: other 5xx (unexpected
    failures), and answers whose errors all lack a ``path`` (syntax, validation, variables,
    Accept): nothing ran, so the client may correct the request and send it again.
    """
    if status >= 500 and status != 504:
        return False
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(answer, dict):
        return False
    if answer.get("data") is not None:
        return True
    errors = answer.get("errors")
    return isinstance(errors, list) and any(
        isinstance(error, dict)
        and (
            "path" in error  # raised while resolving a field: the operation did run
            or (error.get("extensions") or {}).get("code") == "UPSTREAM_TIMEOUT"
        )
        for error in errors
    )


async def _release(store: IdempotencyStore, key: str, begun: Begun) -> None:
    try:
        await store.abandon(key, begun)
    except StoreUnavailable as exc:
        # The marker expires with its lease; until then retries are told to wait.
        log.warning("idempotency store %s could not release a key: %s", store.describe(), exc)


async def _buffer(receive: Receive, limit: int) -> tuple[list[Message], bool]:
    """The request's ASGI messages up to ``limit`` body bytes; whether that was all of it."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > limit:
            return messages, False
        if not message.get("more_body", False):
            return messages, True


def _replaying(request: Request, messages: list[Message], request_id: str) -> Request:
    """A request that reads ``messages`` first, then whatever the client still sends."""
    pending = list(messages)
    receive = request.receive

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    headers = [(k, v) for k, v in request.scope["headers"] if k != b"x-request-id"]
    headers.append((b"x-request-id", request_id.encode()))
    # A shallow copy: scope["state"] (the principal, among others) stays shared.
    return Request({**request.scope, "headers": headers}, replay)


def _mutation(body: bytes, max_tokens: int) -> tuple[str | None, str, dict[str, Any]] | None:
    """(operationName, normalized document, variables) when ``body`` asks for a mutation."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if not isinstance(query, str) or not isinstance(variables, dict | None):
        return None
    if not isinstance(name, str | None):
        return None
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    operation = get_operation_ast(document, name)
    if operation is None or operation.operation != OperationType.MUTATION:
        return None
    # print_ast drops comments and normalizes whitespace, so layout never changes the key.
    return name, print_ast(document), variables or {}


def _fingerprint(principal: str, name: str | None, document: str, variables: Any) -> str:
    canonical = orjson.dumps([principal, name, document, variables], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _replay(stored: StoredResponse, request_id: str) -> Response:
    headers = {"content-type": stored.media_type, REPLAYED: "true", "X-Request-Id": request_id}
    return Response(stored.body, status_code=stored.status, headers=headers)


def _error(
    status: int,
    message: str,
    code: str,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json; charset=utf-8",
        headers={**(headers or {}), "X-Request-Id": request_id},
    )
