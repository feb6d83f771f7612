"""GraphQL over HTTP (the GraphQL-over-HTTP spec): parse the request, execute, shape the answer.

Kept apart from Strawberry's own view so that limits, content negotiation, the 405 for
mutations over GET, the overall deadline and error masking are explicit and cheap. Before
anything runs: CSRF prevention (jobgate.security.csrf), then the caller's scope for the
operation (403 for the whole request: a query needs jobs:read, a mutation jobs:write).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
from typing import Any

import orjson
import strawberry
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from strawberry.http.ides import get_graphql_ide_html

from graphql import GraphQLError
from graphql import OperationType as Operation  # a parsed document's (not Strawberry's)
from jobgate.config import ServerSettings
from jobgate.gateway import Gateway
from jobgate.graphql.context import Context
from jobgate.graphql.errors import is_expected
from jobgate.graphql.execution import Executor
from jobgate.logs import request_id_var
from jobgate.observe import note_operation
from jobgate.principal import READ, WRITE, Principal, principal_of
from jobgate.security.csrf import csrf_refusal
from jobgate.security.limits import inspect_document

log = logging.getLogger("jobgate.graphql")

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,100}")
# "Did you mean 'x'?" names schema members: hidden along with introspection.
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


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


def _media_type(request: Request) -> str:
    """The answer's media type, chosen from the Accept header."""
    accept = request.headers.get("accept", "")
    if not accept:
        return JSON
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if GRAPHQL_RESPONSE in kinds:
        return GRAPHQL_RESPONSE
    if JSON in kinds or "*/*" in kinds or "application/*" in kinds:
        return JSON
    raise BadRequest(406, f"Cannot answer in any of: {accept[:100]}. Accept {JSON}.")


# Fresh request ids: a random prefix per process and a counter, unique without a syscall
# per request (uuid4 reads /dev/urandom every time).
_ID_PREFIX = os.urandom(6).hex()
_id_counter = itertools.count(1)


def request_id_of(request: Request) -> str:
    """The caller's ``X-Request-Id`` when it is a sane token, else a fresh one."""
    supplied = request.headers.get("x-request-id", "")
    if supplied and _REQUEST_ID.fullmatch(supplied):
        return supplied
    return f"{_ID_PREFIX}-{next(_id_counter):x}"


class GraphQLEndpoint:
    def __init__(self, schema: strawberry.Schema, server: ServerSettings) -> None:
        self.executor = Executor(schema, server)
        self.server = server
        self.ide_html = get_graphql_ide_html("graphiql") if server.graphiql else None

    async def handle(self, request: Request) -> Response:
        request_id = request_id_of(request)
        token = request_id_var.set(request_id)
        request.state.request_id = request_id  # for the last-resort 500 handler
        try:
            return await self._handle(request, request_id)
        except BadRequest as exc:
            headers = {**exc.headers, "X-Request-Id": request_id}
            error: dict[str, Any] = {"message": str(exc)}
            if exc.code is not None:
                error["extensions"] = {"code": exc.code}
            return _json({"errors": [error]}, exc.status, JSON, headers)
        finally:
            request_id_var.reset(token)

    async def _handle(self, request: Request, request_id: str) -> Response:
        if request.method == "GET":
            if (
                self.ide_html is not None
                and "query" not in request.query_params
                and "text/html" in request.headers.get("accept", "")
            ):
                return HTMLResponse(self.ide_html)
            self._refuse_cross_site(request)
            params = self._from_query_string(request)
        elif request.method == "POST":
            self._refuse_cross_site(request)
            params = await self._from_body(request)
        else:
            raise BadRequest(405, "GraphQL takes GET or POST.", {"Allow": "GET, POST"})
        media_type = _media_type(request)
        query, variables, operation_name = params
        principal = principal_of(request)
        problem = self._check_operation(request, query, operation_name, principal)
        if problem is not None:
            # A request error (GraphQL-over-HTTP): nothing runs, and there is no "data".
            status = 400 if media_type == GRAPHQL_RESPONSE else 200
            headers = {"X-Request-Id": request_id}
            return _json({"errors": [{"message": problem}]}, status, media_type, headers)
        gateway: Gateway = request.app.state.gateway
        context = Context(
            gateway=gateway.scoped(principal),
            principal=principal,
            server=self.server,
            request_id=request_id,
            breakers=getattr(request.app.state, "breakers", {}),
        )
        try:
            async with asyncio.timeout(self.server.request_timeout):
                result = await self.executor.execute(
                    query, variables=variables, context=context, operation_name=operation_name
                )
        except TimeoutError:
            message = f"The request did not complete within {self.server.request_timeout:g} s."
            timed_out = {
                "data": None,
                "errors": [
                    {
                        "message": message,
                        "extensions": {"code": "UPSTREAM_TIMEOUT", "requestId": request_id},
                    }
                ],
            }
            return _json(
                timed_out,
                200 if media_type == JSON else 504,
                media_type,
                {"X-Request-Id": request_id},
            )
        # Parse, validation and variable errors come before execution (no path): then the
        # answer has no "data" at all, as the GraphQL spec asks.
        executed = result.data is not None or any(e.path for e in result.errors or ())
        body: dict[str, Any] = {"data": result.data} if executed else {}
        if result.errors:
            body["errors"] = [self._format(e, request_id) for e in result.errors]
        status = 200
        if media_type == GRAPHQL_RESPONSE and not executed:
            status = 400  # the request never executed: a document or variables error
        return _json(body, status, media_type, {"X-Request-Id": request_id})

    def _refuse_cross_site(self, request: Request) -> None:
        if not self.server.csrf_prevention:
            return
        refusal = csrf_refusal(request.method, request.headers, self.server.csrf_header)
        if refusal is None:
            return
        query = request.query_params.get("query") if request.method == "GET" else None
        if query:  # a mutation over GET is a 405 whatever its headers
            operation_name = request.query_params.get("operationName")
            inspection = inspect_document(query, operation_name, self.server.max_tokens)
            if inspection.operation is Operation.MUTATION:
                raise BadRequest(405, "Mutations must be sent with POST.", {"Allow": "POST"})
        raise BadRequest(400, refusal, code="CSRF_BLOCKED")

    def _check_operation(
        self, request: Request, query: str, operation_name: str | None, principal: Principal
    ) -> str | None:
        """Refuse what must not run (405, 403); return a request error's message, if any."""
        inspection = inspect_document(query, operation_name, self.server.max_tokens)
        operation = inspection.operation
        note_operation(inspection.name, operation)
        if operation is Operation.MUTATION and request.method == "GET":
            raise BadRequest(405, "Mutations must be sent with POST.", {"Allow": "POST"})
        if inspection.problem is not None:
            return inspection.problem
        if operation is not None:
            needed = WRITE if operation is Operation.MUTATION else READ
            if not principal.can(needed):
                challenge = f'Bearer realm="jobgate", error="insufficient_scope", scope="{needed}"'
                raise BadRequest(
                    403,
                    f"This {operation.value} needs the {needed} scope.",
                    {"WWW-Authenticate": challenge},
                    code="FORBIDDEN",
                )
        return None

    def _format(self, error: GraphQLError, request_id: str) -> dict[str, Any]:
        if is_expected(error):
            formatted: dict[str, Any] = dict(error.formatted)
            if not self.server.introspection:
                formatted["message"] = _SUGGESTION.sub("", formatted["message"])
            return formatted
        log.error(
            "unexpected error while resolving %s",
            ".".join(str(p) for p in error.path or ()),
            exc_info=error.original_error,
        )
        masked: dict[str, Any] = {
            "message": f"Internal error (request id {request_id}).",
            "extensions": {"code": "INTERNAL", "requestId": request_id},
        }
        if error.path:
            masked["path"] = error.path
        if error.locations:
            masked["locations"] = [loc._asdict() for loc in error.locations]
        return masked

    def _from_query_string(self, request: Request) -> tuple[str, dict[str, Any] | None, str | None]:
        params = request.query_params
        variables: Any = None
        if params.get("variables"):
            variables = _parse_json(params["variables"], "variables")
        return _validate(
            {
                "query": params.get("query"),
                "variables": variables,
                "operationName": params.get("operationName"),
            }
        )

    async def _from_body(self, request: Request) -> tuple[str, dict[str, Any] | None, str | None]:
        content_type = request.headers.get("content-type", "")
        media, _, parameters = content_type.partition(";")
        if media.strip().lower() != JSON:
            raise BadRequest(415, f"Send GraphQL requests as {JSON}.")
        charset = parameters.strip().lower()
        if charset and charset.replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
            raise BadRequest(415, "Only UTF-8 request bodies are accepted.")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.server.max_body_bytes:
            raise BadRequest(413, f"Request body exceeds {self.server.max_body_bytes} bytes.")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.server.max_body_bytes:
                raise BadRequest(413, f"Request body exceeds {self.server.max_body_bytes} bytes.")
            chunks.append(chunk)
        return _validate(_parse_json(b"".join(chunks), "body"))


def _parse_json(raw: str | bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(400, f"The request {what} is not valid JSON.") from None


def _validate(data: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    if not isinstance(data, dict):
        raise BadRequest(400, "The request must be a JSON object.")
    query = data.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest(400, "The request has no GraphQL query ('query' must be a string).")
    variables = data.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest(400, "'variables' must be an object.")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest(400, "'operationName' must be a string.")
    extensions = data.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        raise BadRequest(400, "'extensions' must be an object.")
    return query, variables, operation_name


def _json(body: Any, status: int, media_type: str, headers: dict[str, str]) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{media_type}; charset=utf-8",
        headers=headers,
    )
