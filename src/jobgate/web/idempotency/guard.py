"""``Idempotency-Key`` on GraphQL mutations (Stripe's semantics), decided inside the endpoint.

The endpoint calls ``IdempotencyGuard.run`` for a POSTed mutation carrying the header only after
everything a fresh request goes through: CSRF prevention, the content type, the body, the
document and the caller's scope. So a replay is authorised exactly as a fresh request is, and
keys belong to ``Principal.authority`` - an identity two callers cannot share (a key's name,
a JWT's issuer and subject, or the token itself) with the scopes and sources it holds.

A repeat with the same operation and variables replays the stored answer; with other input it
is refused (422); while the first still runs, the caller is told to wait (409). A key whose
first request died with it (its lease ran out without an answer) or answered OUTCOME_UNKNOWN is
not replayed: the mutation runs again in *resume* mode, where a job already showing the change
is answered as applied by the earlier attempt, and only the others are written.
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

from graphql import DocumentNode, print_ast
from jobgate.domain.principal import Principal
from jobgate.web.answers import error_answer
from jobgate.web.idempotency.store import (
    Begun,
    IdempotencyStore,
    InFlight,
    Mismatch,
    Replay,
    StoredResponse,
    StoreUnavailable,
    scoped_key,
)
from jobgate.web.observe import answered_codes
from jobgate.web.scope import note_codes

log = logging.getLogger("jobgate.idempotency")

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# An answer that leaves a change's outcome open: resumed, never replayed.
_UNSETTLED = (b'"OUTCOME_UNKNOWN"', b'"UPSTREAM_TIMEOUT"')

# Runs the mutation: ``resume`` when an earlier attempt under the key may have applied it.
Execute = Callable[[bool], Awaitable[Response]]


class IdempotencyGuard:
    async def run(
        self,
        request: Request,
        *,
        store: IdempotencyStore,
        principal: Principal,
        operation_name: str | None,
        document: DocumentNode,
        variables: dict[str, Any] | None,
        execute: Execute,
    ) -> Response:
        keys = request.headers.getlist(HEADER)
        if len(keys) != 1 or not _KEY.fullmatch(keys[0]):
            message = (
                "Send one Idempotency-Key header."
                if len(keys) != 1
                else "Idempotency-Key must be 1 to 255 printable ASCII characters."
            )
            return _error(400, message, "INVALID_IDEMPOTENCY_KEY")
        scope = principal.authority
        # print_ast drops comments and normalizes whitespace, so layout never changes the key.
        fingerprint = _fingerprint(scope, operation_name, print_ast(document), variables or {})
        key = scoped_key(scope, keys[0])
        try:
            outcome = await store.begin(key, fingerprint)
        except StoreUnavailable as exc:
            log.error("idempotency store %s unavailable: %s", store.describe(), exc)
            message = "The idempotency store is unavailable, so the mutation was not run."
            return _error(503, message, "IDEMPOTENCY_UNAVAILABLE", {"Retry-After": "5"})
        if isinstance(outcome, Replay):
            return _replay(outcome.response)
        if isinstance(outcome, Mismatch):
            message = (
                "This Idempotency-Key was already used with a different operation or "
                "variables; use a new key for a new request."
            )
            return _error(422, message, "IDEMPOTENCY_KEY_REUSED")
        if isinstance(outcome, InFlight):
            message = "A request with this Idempotency-Key is still running; retry shortly."
            return _error(409, message, "IDEMPOTENCY_KEY_IN_USE", {"Retry-After": "1"})
        if outcome.resume:
            log.info("idempotency key resumed: an earlier attempt may have applied the change")
        return await _run(store, key, outcome, execute)


async def _run(store: IdempotencyStore, key: str, begun: Begun, execute: Execute) -> Response:
    try:
        response = await execute(begun.resume)
    except Exception:
        # An unexpected server error: no answer to keep, so the client may try again (a resumed
        # key stays resumable). A cancelled request keeps its record until its lease ends:
        # its write may have been sent, so the next attempt resumes it.
        await _release(store, key, begun)
        raise
    body = getattr(response, "body", None)
    if not isinstance(body, bytes | memoryview) or not _ran(response.status_code, body):
        await _release(store, key, begun)
        return response
    body = bytes(body)
    media_type = response.headers.get("content-type", "application/json")
    settled = not any(marker in body for marker in _UNSETTLED)
    stored = StoredResponse(response.status_code, body, media_type, settled)
    try:
        await store.finish(key, begun, stored)
    except StoreUnavailable as exc:
        # The mutation ran: its answer is the truth and is returned; only the replay is lost.
        log.error("idempotency store %s could not record an answer: %s", store.describe(), exc)
    return response


def _ran(status: int, body: bytes | memoryview) -> bool:
    """Whether the answer is the result of running the mutation, and so is kept.

    Kept: any answer with ``data`` (its payload may carry a JobError), and the gateway's own
    deadline answer (UPSTREAM_TIMEOUT, 200 or 504), whose write may have reached the upstream.
    Released: other 5xx (unexpected failures), and answers whose errors all lack a ``path``
    (syntax, validation, variables, Accept): nothing ran, so the client may correct the request
    and send it again.
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
        # The record's lease runs out; until then retries are told to wait.
        log.warning("idempotency store %s could not release a key: %s", store.describe(), exc)


def _fingerprint(scope: str, name: str | None, document: str, variables: Any) -> str:
    canonical = orjson.dumps([scope, name, document, variables], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _replay(stored: StoredResponse) -> Response:
    note_codes(answered_codes(stored.body))
    headers = {"content-type": stored.media_type, REPLAYED: "true"}
    return Response(stored.body, status_code=stored.status, headers=headers)


def _error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    note_codes([code])
    return error_answer(status, message, code, headers)
