"""The GraphQL endpoint: check what a request may do, run it under its deadline, shape the answer.

Kept apart from Strawberry's own view so that limits, content negotiation, the 405 for
mutations over GET, the overall deadline and error masking are explicit and cheap. Before
anything runs: CSRF prevention (``csrf.py``), then the caller's scope for the operation (403 for
the whole request: a query needs jobs:read, a mutation jobs:write). A POSTed mutation with an
``Idempotency-Key`` then runs under the idempotency guard (``idempotency/``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from graphql import ExecutionResult, GraphQLError
from graphql import OperationType as Operation  # a parsed document's (not Strawberry's)
from jobgate.config import MUTATION_GRACE, ServerSettings
from jobgate.domain.principal import READ, WRITE, Principal
from jobgate.gateway import Gateway
from jobgate.graphql.context import Context
from jobgate.graphql.errors import is_expected
from jobgate.graphql.execution import Executor, Prepared
from jobgate.graphql.limits import Inspection, inspect_operation
from jobgate.graphql.shapes import Shaped
from jobgate.timeouts import SharedTimeout
from jobgate.web.answers import GRAPHQL_RESPONSE, JSON, json_answer
from jobgate.web.auth import Authenticator, principal_of
from jobgate.web.csrf import csrf_refusal
from jobgate.web.ide import GraphiQL
from jobgate.web.idempotency.guard import IdempotencyGuard
from jobgate.web.live import SSE, Live, LiveLimits, client_of, wants_events
from jobgate.web.observe import error_codes, payload_codes
from jobgate.web.params import (
    BadRequest,
    Params,
    RawHeaders,
    from_body,
    from_query_string,
    media_type,
    raw_headers,
)
from jobgate.web.persisted import PersistedQueries
from jobgate.web.scope import note_codes, note_operation, request_id_of

log = logging.getLogger("jobgate.graphql")

IDEMPOTENCY_HEADER = b"idempotency-key"
# "Did you mean 'x'?" names schema members: hidden along with introspection.
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


@dataclass(slots=True)
class Run:
    """One request that passed every check, ready to execute."""

    params: Params
    prepared: Prepared
    context: Context
    media_type: str
    mutation: bool
    # The query as its shape's template (graphql/shapes.py); None: its own document.
    shaped: Shaped | None = None


class GraphQLEndpoint:
    def __init__(
        self, schema: strawberry.Schema, server: ServerSettings, authenticator: Authenticator
    ) -> None:
        self.executor = Executor(schema, server)
        self.server = server
        self.timeouts = SharedTimeout(server.request_timeout)
        # A mutation's calls end by the request's deadline (a write early enough to leave time
        # to read the job back, see upstream/guard.py), so it always answers a payload; this is
        # only the last resort should something overrun.
        self.mutation_timeouts = SharedTimeout(server.request_timeout + MUTATION_GRACE)
        self.idempotency = IdempotencyGuard()
        self.persisted = PersistedQueries(
            enabled=server.persisted_queries, max_document_bytes=server.max_body_bytes
        )
        self.ide = GraphiQL() if server.graphiql else None
        self.live = Live(
            self.executor,
            server,
            authenticator,
            make_context=self._live_context,
            format_result=self.format_result,
            limits=LiveLimits(server.max_live_connections_per_client),
        )

    async def handle(self, request: Request) -> Response:
        try:
            return await self._handle(request, raw_headers(request))
        except BadRequest as exc:
            error: dict[str, Any] = {"message": str(exc)}
            if exc.code is not None:
                error["extensions"] = {"code": exc.code}
            note_codes([exc.code or "BAD_REQUEST"])
            return json_answer({"errors": [error]}, exc.status, JSON, exc.headers)

    async def _handle(self, request: Request, received: RawHeaders) -> Response:
        if request.method == "GET":
            if self._wants_ide(request, received):
                assert self.ide is not None
                return self.ide.page()
            self._refuse_cross_site(request)
            params = from_query_string(request, self.persisted.resolve)
        elif request.method == "POST":
            self._refuse_cross_site(request)
            params = await from_body(
                request, received, self.server.max_body_bytes, self.persisted.resolve
            )
        else:
            raise BadRequest(405, "GraphQL takes GET or POST.", {"Allow": "GET, POST"})
        answer_as = SSE if wants_events(received) else media_type(received)
        principal = principal_of(request)
        # Parsed and validated once (cached by the document's text, or by its shape), for
        # every use below.
        if answer_as == SSE:
            prepared, shaped = self.executor.prepare(params[0]), None
        else:
            prepared, shaped = self.executor.lookup(params[0], params[1])
        inspection = self._check_operation(request, prepared, params[2], principal)
        if inspection.problem is not None:
            # A request error (GraphQL-over-HTTP): nothing runs, and there is no "data".
            note_codes(["BAD_REQUEST"])
            status = 400 if answer_as == GRAPHQL_RESPONSE else 200
            return json_answer({"errors": [{"message": inspection.problem}]}, status, answer_as)
        if answer_as == SSE:
            return self._stream(request, params, principal, inspection.operation)
        if inspection.operation is Operation.SUBSCRIPTION:
            raise BadRequest(
                400,
                "A subscription needs a WebSocket (graphql-transport-ws) or a request that "
                "accepts text/event-stream.",
                code="BAD_REQUEST",
            )
        run = Run(
            params,
            prepared,
            self._context(request, principal),
            answer_as,
            inspection.operation is Operation.MUTATION,
            shaped,
        )
        if run.mutation and request.method == "POST" and IDEMPOTENCY_HEADER in received:
            if prepared.document is not None and not prepared.errors:
                # After every check a fresh request passes: a replay is authorised the same way.
                return await self.idempotency.run(
                    request,
                    store=request.app.state.idempotency,
                    principal=principal,
                    operation_name=params[2],
                    document=prepared.document,
                    variables=params[1],
                    execute=lambda resuming: self._execute(run, resuming),
                )
        return await self._execute(run, False)

    def _wants_ide(self, request: Request, received: RawHeaders) -> bool:
        return (
            self.ide is not None
            and "query" not in request.query_params
            and b"text/html" in received.get(b"accept", b"")
        )

    def _context(self, request: Request, principal: Principal) -> Context:
        return self._live_context(request.app.state, principal, request_id_of(request.scope))

    def _live_context(self, state: Any, principal: Principal, request_id: str) -> Context:
        gateway: Gateway = state.gateway
        return Context(
            gateway=gateway.scoped(principal),
            principal=principal,
            server=self.server,
            request_id=request_id,
            breakers=getattr(state, "breakers", {}),
            resuming=False,
            watcher=getattr(state, "watcher", None),
        )

    def _stream(
        self,
        request: Request,
        params: Params,
        principal: Principal,
        operation: Operation | None,
    ) -> Response:
        """GraphQL over SSE: the operation's results as events, however long it runs."""
        if operation is Operation.MUTATION:
            # A mutation answers once, and only the JSON path runs the Idempotency-Key guard.
            raise BadRequest(
                400,
                "Send mutations as application/json; text/event-stream is for "
                "subscriptions and queries.",
                code="BAD_REQUEST",
            )
        client = client_of(principal, request.client.host if request.client else None)
        events = self.live.sse_events(
            params, principal, request_id_of(request.scope), request.app.state, client
        )
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events, media_type=SSE, headers=headers)

    async def _execute(self, run: Run, resuming: bool) -> Response:
        query, variables, operation_name = run.params
        run.context.resuming = resuming
        timeouts = self.mutation_timeouts if run.mutation else self.timeouts
        try:
            async with timeouts.timeout():  # asyncio.timeout(request_timeout)
                if run.shaped is not None:
                    result = await self._execute_shaped(run, run.shaped)
                else:
                    result = await self.executor.execute(
                        query,
                        variables=variables,
                        context=run.context,
                        operation_name=operation_name,
                        prepared=run.prepared,
                    )
        except TimeoutError:
            return self._timed_out(run)
        body = self.format_result(result, run.context.request_id)
        executed = "data" in body
        if result.errors:
            note_codes(error_codes(body["errors"]))
        if run.mutation:
            note_codes(payload_codes(result.data))
        status = 200
        if run.media_type == GRAPHQL_RESPONSE and not executed:
            status = 400  # the request never executed: a document or variables error
        return json_answer(body, status, run.media_type)

    async def _execute_shaped(self, run: Run, shaped: Shaped) -> ExecutionResult:
        """The query on its shape's template; its own document when a literal is refused."""
        query, variables, operation_name = run.params
        result = await self.executor.execute(
            query,
            variables=shaped.variables,
            context=run.context,
            operation_name=operation_name,
            prepared=run.prepared,
        )
        if result.data is None and result.errors and not any(e.path for e in result.errors):
            # A literal the template's variable refused (nothing ran): the usual path gives
            # the error the document itself draws.
            return await self.executor.execute(
                query, variables=variables, context=run.context, operation_name=operation_name
            )
        for error in result.errors or ():
            if error.locations:
                error.locations = [shaped.locate(where) for where in error.locations]
        return result

    def format_result(self, result: ExecutionResult, request_id: str) -> dict[str, Any]:
        """An execution result as the answer's JSON object (unexpected errors masked)."""
        # Parse, validation and variable errors come before execution (no path): then the
        # answer has no "data" at all, as the GraphQL spec asks.
        executed = result.data is not None or any(e.path for e in result.errors or ())
        body: dict[str, Any] = {"data": result.data} if executed else {}
        if result.errors:
            body["errors"] = [self._format(e, request_id) for e in result.errors]
        return body

    def _timed_out(self, run: Run) -> Response:
        request_id = run.context.request_id
        message = f"The request did not complete within {self.server.request_timeout:g} s."
        error = {
            "message": message,
            "extensions": {"code": "UPSTREAM_TIMEOUT", "requestId": request_id},
        }
        note_codes(["UPSTREAM_TIMEOUT"])
        status = 200 if run.media_type == JSON else 504
        return json_answer({"data": None, "errors": [error]}, status, run.media_type)

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
