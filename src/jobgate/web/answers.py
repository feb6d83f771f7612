"""The answers the HTTP shell writes itself: JSON bodies (credentials removed), the error
answers of the layers in front of GraphQL, and the last-resort 500."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from jobgate.internals.starlette import JSONAnswer
from jobgate.logs import request_id_var
from jobgate.redaction import secrets
from jobgate.web.scope import request_id_of

log = logging.getLogger("jobgate.auth")  # the logger these lines have always had

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"


def json_answer(
    body: Any, status: int = 200, media_type: str = JSON, headers: dict[str, str] | None = None
) -> Response:
    # Upstreams quote credentials in their errors: none leaves in an answer (jobgate.redaction).
    return JSONAnswer(secrets().bytes(orjson.dumps(body)), status, media_type, headers or {})


def error_answer(
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    *,
    request_id: str | None = None,
) -> Response:
    """A request refused before GraphQL runs: ``{"errors": [..]}`` with the code to act on."""
    extensions: dict[str, str] = {"code": code}
    if request_id is not None:
        extensions["requestId"] = request_id
    body = {"errors": [{"message": message, "extensions": extensions}]}
    return json_answer(body, status, JSON, headers)


async def internal_error(request: Request, exc: Exception) -> Response:
    """Starlette's last-resort handler: a JSON 500 with a request id, the details in the log.

    It runs outside every middleware of ours (Starlette's ServerErrorMiddleware calls it), so
    it sets the request id on its log line and its answer itself."""
    request_id = request_id_of(request.scope)
    token = request_id_var.set(request_id)
    try:
        log.error("unhandled error in the HTTP layer", exc_info=exc)
    finally:
        request_id_var.reset(token)
    message = f"Internal error (request id {request_id})."
    headers = {"X-Request-Id": request_id}
    return error_answer(500, message, "INTERNAL", headers, request_id=request_id)
