"""Reading a GraphQL request from HTTP (the GraphQL-over-HTTP spec): the query string or the
JSON body, the media type to answer in, and the 4xx for anything else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request

from jobgate.web.answers import GRAPHQL_RESPONSE, JSON

Params = tuple[str, dict[str, Any] | None, str | None]  # query, variables, operation name
# The document a request names: its "query", or one its "extensions" point to (persisted.py).
Resolve = Callable[[Any, Any], Any]


class BadRequest(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.code = code


RawHeaders = dict[bytes, bytes]


def raw_headers(request: Request) -> RawHeaders:
    """The request's headers by (lower-case) name, the first of any repeated one: what
    ``request.headers.get(name)`` reads, in one pass over them instead of one per lookup."""
    return dict(reversed(list(request.scope["headers"])))


def media_type(received: RawHeaders) -> str:
    """The answer's media type, chosen from the Accept header."""
    accept = received.get(b"accept", b"").decode("latin-1")
    if not accept:
        return JSON
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if GRAPHQL_RESPONSE in kinds:
        return GRAPHQL_RESPONSE
    if JSON in kinds or "*/*" in kinds or "application/*" in kinds:
        return JSON
    raise BadRequest(406, f"Cannot answer in any of: {accept[:100]}. Accept {JSON}.")


def from_query_string(request: Request, resolve: Resolve) -> Params:
    params = request.query_params
    data: dict[str, Any] = {
        "query": params.get("query"),
        "operationName": params.get("operationName"),
    }
    for name in ("variables", "extensions"):  # JSON in the URL (GraphQL over HTTP)
        if params.get(name):
            data[name] = _parse_json(params[name], name)
    return _validate(data, resolve)


async def from_body(
    request: Request, received: RawHeaders, max_bytes: int, resolve: Resolve
) -> Params:
    content_type = received.get(b"content-type", b"").decode("latin-1")
    media, _, parameters = content_type.partition(";")
    if media.strip().lower() != JSON:
        raise BadRequest(415, f"Send GraphQL requests as {JSON}.")
    charset = parameters.strip().lower()
    if charset and charset.replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
        raise BadRequest(415, "Only UTF-8 request bodies are accepted.")
    declared = received.get(b"content-length", b"").decode("latin-1")
    if declared.isdigit() and int(declared) > max_bytes:
        raise BadRequest(413, f"Request body exceeds {max_bytes} bytes.")
    return _validate(_parse_json(await _read_body(request, max_bytes), "body"), resolve)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, read as ``request.stream()`` would (without an async generator's cost)."""
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BadRequest(413, f"Request body exceeds {limit} bytes.")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def _parse_json(raw: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(400, f"The request {what} is not valid JSON.") from None


def _validate(data: Any, resolve: Resolve) -> Params:
    if not isinstance(data, dict):
        raise BadRequest(400, "The request must be a JSON object.")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest(400, "'extensions' must be an object.")
    query = data.get("query")
    if extensions is not None:
        query = resolve(query, extensions)
    if not isinstance(query, str) or not query.strip():
        raise BadRequest(400, "The request has no GraphQL query ('query' must be a string).")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest(400, "'variables' must be an object.")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest(400, "'operationName' must be a string.")
    return query, variables, operation_name
