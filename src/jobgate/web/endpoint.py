"""GraphQL over HTTP (the GraphQL-over-HTTP spec): parse the request, execute, shape the answer.

Kept apart from Strawberry's own view so that limits, content negotiation, the 405 for
mutations over GET, the overall deadline and error masking are explicit and cheap. Before
anything runs: CSRF prevention (jobgate.web.csrf), then the caller's scope for the
operation (403 for the whole request: a query needs jobs:read, a mutation jobs:write).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import re
from types import TracebackType
from typing import Any

import orjson
import strawberry
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from strawberry.http.ides import get_graphql_ide_html

from graphql import GraphQLError
from graphql import OperationType as Operation  # a parsed document's (not Strawberry's)
from jobgate.config import MUTATION_GRACE, ServerSettings
from jobgate.domain.principal import READ, WRITE, Principal
from jobgate.gateway import Gateway
from jobgate.graphql.context import Context
from jobgate.graphql.errors import is_expected
from jobgate.graphql.execution import Executor, Prepared
from jobgate.graphql.limits import Inspection, inspect_operation
from jobgate.logs import request_id_var
from jobgate.redaction import secrets
from jobgate.web.auth import principal_of
from jobgate.web.csrf import csrf_refusal
from jobgate.web.idempotency.guard import IdempotencyGuard
from jobgate.web.observe import note_operation

log = logging.getLogger("jobgate.graphql")

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
IDEMPOTENCY_HEADER = b"idempotency-key"
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


RawHeaders = dict[bytes, bytes]


def raw_headers(request: Request) -> RawHeaders:
    """The request's headers by (lower-case) name, the first of any repeated one: what
    ``request.headers.get(name)`` reads, in one pass over them instead of one per lookup."""
    return dict(reversed(list(request.scope["headers"])))


def _media_type(received: RawHeaders) -> str:
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


# Fresh request ids: a random prefix per process and a counter, unique without a syscall
# per request (uuid4 reads /dev/urandom every time).
_ID_PREFIX = os.urandom(6).hex()
_id_counter = itertools.count(1)


def request_id_of(request: Request, received: RawHeaders | None = None) -> str:
    """The caller's ``X-Request-Id`` when it is a sane token, else a fresh one."""
    if received is None:
        supplied = request.headers.get("x-request-id", "")
    else:
        supplied = received.get(b"x-request-id", b"").decode("latin-1")
    if supplied and _REQUEST_ID.fullmatch(supplied):
        return supplied
    return f"{_ID_PREFIX}-{next(_id_counter):x}"


class SharedTimeout:
    """``async with shared.timeout():`` does what ``async with asyncio.timeout(seconds):`` does,
    for any number of requests, on one event-loop timer.

    ``asyncio.timeout()`` arms a loop timer on entry and cancels it on exit: under uvloop that
    cost ~10 µs a request, a quarter of a ``{ __typename }`` request (measured). Here every
    timeout is the same length, so deadlines fall in the order the blocks start: the blocks
    still running are kept in that order, and a single timer, set for the oldest, expires
    whichever are due and is set again for the next.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running: dict[Deadline, None] = {}  # oldest first, so by deadline
        self._timer: asyncio.TimerHandle | None = None

    def timeout(self) -> Deadline:
        return Deadline(self)

    def _start(self, deadline: Deadline) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # another event loop (tests run one each): start afresh
            self._loop, self._running, self._timer = loop, {}, None
        deadline.when = loop.time() + self.seconds
        self._running[deadline] = None
        if self._timer is None:
            self._timer = loop.call_at(deadline.when, self._expire, loop, deadline.when)

    def _expire(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        """The timer, set for ``due``: expire the blocks due by then, set it for the next."""
        if loop is not self._loop:
            return
        self._timer = None
        running = self._running
        while running:
            oldest = next(iter(running))
            if oldest.when > due:
                self._timer = loop.call_at(oldest.when, self._expire, loop, oldest.when)
                return
            del running[oldest]
            oldest.expire()


class Deadline:
    """One block under a SharedTimeout; the states and the cancellation are asyncio.Timeout's."""

    __slots__ = ("cancelling", "expired", "shared", "task", "when")

    def __init__(self, shared: SharedTimeout) -> None:
        self.shared = shared
        self.expired = False
        self.when = 0.0

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("A timeout must be used inside a task.")
        self.task = task
        self.cancelling = task.cancelling()
        self.shared._start(self)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.expired:
            self.shared._running.pop(self, None)
        elif (
            self.task.uncancel() <= self.cancelling
            and exc_type is not None
            and issubclass(exc_type, asyncio.CancelledError)
        ):
            # Our cancellation, and no other was asked for since the block started.
            raise TimeoutError from exc

    def expire(self) -> None:
        self.expired = True
        self.task.cancel()


class GraphQLEndpoint:
    def __init__(self, schema: strawberry.Schema, server: ServerSettings) -> None:
        self.executor = Executor(schema, server)
        self.server = server
        self.timeouts = SharedTimeout(server.request_timeout)
        # A mutation's calls end by the request's deadline (a write early enough to leave time
        # to read the job back, see calls.py), so it always answers a payload; this is only
        # the last resort should something overrun.
        self.mutation_timeouts = SharedTimeout(server.request_timeout + MUTATION_GRACE)
        self.idempotency = IdempotencyGuard()
        self.ide_html = get_graphql_ide_html("graphiql") if server.graphiql else None

    async def handle(self, request: Request) -> Response:
        received = raw_headers(request)
        request_id = request_id_of(request, received)
        token = request_id_var.set(request_id)
        # For the last-resort 500 handler (what request.state.request_id = ... does).
        request.scope.setdefault("state", {})["request_id"] = request_id
        try:
            return await self._handle(request, received, request_id)
        except BadRequest as exc:
            headers = {**exc.headers, "X-Request-Id": request_id}
            error: dict[str, Any] = {"message": str(exc)}
            if exc.code is not None:
                error["extensions"] = {"code": exc.code}
            return _json({"errors": [error]}, exc.status, JSON, headers)
        finally:
            request_id_var.reset(token)

    async def _handle(self, request: Request, received: RawHeaders, request_id: str) -> Response:
        if request.method == "GET":
            if (
                self.ide_html is not None
                and "query" not in request.query_params
                and b"text/html" in received.get(b"accept", b"")
            ):
                return HTMLResponse(self.ide_html)
            self._refuse_cross_site(request)
            params = self._from_query_string(request)
        elif request.method == "POST":
            self._refuse_cross_site(request)
            params = await self._from_body(request, received)
        else:
            raise BadRequest(405, "GraphQL takes GET or POST.", {"Allow": "GET, POST"})
        media_type = _media_type(received)
        query, variables, operation_name = params
        principal = principal_of(request)
        # Parsed and validated once (cached by the document's text), for every use below.
        prepared = self.executor.prepare(query)
        inspection = self._check_operation(request, prepared, operation_name, principal)
        if inspection.problem is not None:
            # A request error (GraphQL-over-HTTP): nothing runs, and there is no "data".
            status = 400 if media_type == GRAPHQL_RESPONSE else 200
            headers = {"X-Request-Id": request_id}
            body = {"errors": [{"message": inspection.problem}]}
            return _json(body, status, media_type, headers)
        mutation = inspection.operation is Operation.MUTATION
        gateway: Gateway = request.app.state.gateway
        view = gateway.scoped(principal)
        breakers = getattr(request.app.state, "breakers", {})

        async def execute(resuming: bool) -> Response:
            context = Context(
                gateway=view,
                principal=principal,
                server=self.server,
                request_id=request_id,
                breakers=breakers,
                resuming=resuming,
            )
            return await self._execute(
                query,
                prepared,
                variables,
                operation_name,
                context,
                media_type,
                request_id,
                mutation,
            )

        if mutation and request.method == "POST" and IDEMPOTENCY_HEADER in received:
            if prepared.document is not None and not prepared.errors:
                # After every check a fresh request passes: a replay is authorised the same way.
                return await self.idempotency.run(
                    request,
                    store=request.app.state.idempotency,
                    principal=principal,
                    operation_name=operation_name,
                    document=prepared.document,
                    variables=variables,
                    request_id=request_id,
                    execute=execute,
                )
        return await execute(False)

    async def _execute(
        self,
        query: str,
        prepared: Prepared,
        variables: dict[str, Any] | None,
        operation_name: str | None,
        context: Context,
        media_type: str,
        request_id: str,
        mutation: bool,
    ) -> Response:
        timeouts = self.mutation_timeouts if mutation else self.timeouts
        try:
            async with timeouts.timeout():  # asyncio.timeout(request_timeout)
                result = await self.executor.execute(
                    query,
                    variables=variables,
                    context=context,
                    operation_name=operation_name,
                    prepared=prepared,
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
            inspection = self._inspect(self.executor.prepare(query), operation_name)
            if inspection.operation is Operation.MUTATION:
                raise BadRequest(405, "Mutations must be sent with POST.", {"Allow": "POST"})
        raise BadRequest(400, refusal, code="CSRF_BLOCKED")

    def _check_operation(
        self,
        request: Request,
        prepared: Prepared,
        operation_name: str | None,
        principal: Principal,
    ) -> Inspection:
        """Refuse what must not run (405, 403); the inspection carries a request error, if any."""
        inspection = self._inspect(prepared, operation_name)
        operation = inspection.operation
        note_operation(inspection.name, operation)
        if operation is Operation.MUTATION and request.method == "GET":
            raise BadRequest(405, "Mutations must be sent with POST.", {"Allow": "POST"})
        if inspection.problem is None and operation is not None:
            needed = WRITE if operation is Operation.MUTATION else READ
            if not principal.can(needed):
                challenge = f'Bearer realm="jobgate", error="insufficient_scope", scope="{needed}"'
                raise BadRequest(
                    403,
                    f"This {operation.value} needs the {needed} scope.",
                    {"WWW-Authenticate": challenge},
                    code="FORBIDDEN",
                )
        return inspection

    def _inspect(self, prepared: Prepared, operation_name: str | None) -> Inspection:
        return inspect_operation(
            prepared.document, operation_name, long_number=prepared.long_number
        )

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

    async def _from_body(
        self, request: Request, received: RawHeaders
    ) -> tuple[str, dict[str, Any] | None, str | None]:
        content_type = received.get(b"content-type", b"").decode("latin-1")
        media, _, parameters = content_type.partition(";")
        if media.strip().lower() != JSON:
            raise BadRequest(415, f"Send GraphQL requests as {JSON}.")
        charset = parameters.strip().lower()
        if charset and charset.replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
            raise BadRequest(415, "Only UTF-8 request bodies are accepted.")
        declared = received.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.server.max_body_bytes:
            raise BadRequest(413, f"Request body exceeds {self.server.max_body_bytes} bytes.")
        return _validate(_parse_json(await self._read_body(request), "body"))

    async def _read_body(self, request: Request) -> bytes:
        """The body, read as ``request.stream()`` would (without an async generator's cost)."""
        receive = request.receive
        limit = self.server.max_body_bytes
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


_CONTENT_TYPES = {kind: f"{kind}; charset=utf-8" for kind in (JSON, GRAPHQL_RESPONSE)}


class JSONAnswer(Response):
    """A JSON answer, its headers made directly: the same ones Starlette's ``Response(body,
    status_code=, media_type=, headers=)`` makes (``headers``, then content-length and
    content-type), without its general-purpose checks."""

    def __init__(self, body: bytes, status: int, media_type: str, headers: dict[str, str]) -> None:
        self.status_code = status
        self.media_type = _CONTENT_TYPES.get(media_type) or f"{media_type}; charset=utf-8"
        self.background = None
        self.body = body
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw.append((b"content-length", str(len(body)).encode("latin-1")))
        raw.append((b"content-type", self.media_type.encode("latin-1")))
        self.raw_headers = raw


def _json(body: Any, status: int, media_type: str, headers: dict[str, str]) -> Response:
    # Upstreams quote credentials in their errors: none leaves in an answer (jobgate.redaction).
    return JSONAnswer(secrets().bytes(orjson.dumps(body)), status, media_type, headers)
