"""Run requests on the schema Strawberry built, without Strawberry's per-request pipeline.

Strawberry defines the schema (types, resolvers, descriptions). Running a request needs only
graphql-core: each distinct document is parsed and validated once (our limit rules included)
and kept in a bounded cache, then executed. Measured on Q0 ``{__typename}``, Strawberry's
``Schema.execute`` with its extensions cost ~95 µs a request; this path costs ~15 µs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

import strawberry
from graphql.execution.incremental.incremental_executor import IncrementalExecutor
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    parse,
    specified_rules,
    validate,
)
from jobgate.config import ServerSettings
from jobgate.graphql.errors import JobLookupError
from jobgate.graphql.limits import MAX_CACHED_LENGTH, document_limits_rule, has_long_number
from jobgate.lru import SizedLRU

# Prepared documents kept, by an estimate of their bytes: a parsed and validated document takes
# ~100-180 times its text (measured with tracemalloc on Q1, Q20 and the introspection query).
CACHE_BYTES = 16_000_000
AST_BYTES_PER_CHARACTER = 150
PREPARED_OVERHEAD = 4_000


# Constant answers kept per document: one per operation name a client picks, so bounded.
MAX_STATIC_RESULTS = 8


@dataclass(slots=True)
class Prepared:
    """A document ready to execute, or the errors that stop it before execution."""

    document: DocumentNode | None
    errors: tuple[GraphQLError, ...] = ()
    # A number literal too long for int(): refused before validation, which would fail on it.
    long_number: bool = False
    # Results of operations that depend on the schema alone, by operation name.
    static: dict[str | None, ExecutionResult] = field(default_factory=dict)


def is_static(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation's answer is a constant worth keeping.

    True for an operation without variables whose root fields are all ``__typename``: no
    resolver of ours runs, and the answer is a few bytes, so one execution answers every later
    request for the same document. (Introspection depends only on the schema too, but its
    answer is ~100 KB: kept for every distinct introspection document, it would pin memory.)
    """
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return False
    operation = operations[0]
    if operation.variable_definitions or operation.directives:
        return False
    return all(
        isinstance(selection, FieldNode)
        and selection.name.value == "__typename"
        and not selection.directives
        for selection in operation.selection_set.selections
    )


class AcyclicExecutor(IncrementalExecutor):
    """graphql-core's executor, which lets go of its per-request state when the answer is built.

    graphql-core keeps ``GraphQLResolveInfoHelpers`` bound to the executor on the executor: a
    reference cycle, so everything a request's execution built (field plans, ref maps, the
    context and its DataLoader, the jobs) waited for the cyclic garbage collector instead of
    being freed when the request ended. Under load those collections were ~15 % of the CPU
    and the 100-300 ms pauses behind the p99s (measured with ``gc.callbacks``).
    """

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):  # nothing left to deliver incrementally
            del self.async_helpers
            for error in response.errors or ():
                # A lookup error is an answer, not a fault: its traceback (executor frames that
                # hold the executor, another cycle) is never logged, so it goes. Unexpected
                # errors keep theirs for the log line that reports them.
                if isinstance(error.original_error, JobLookupError):
                    error.__traceback__ = error.original_error.__traceback__ = None
        return response


class Executor:
    def __init__(self, schema: strawberry.Schema, server: ServerSettings) -> None:
        self.schema: GraphQLSchema = schema._schema
        self.max_tokens = server.max_tokens
        rules: list[type[ASTValidationRule]] = [
            *specified_rules,
            document_limits_rule(server.max_depth, server.max_aliases, server.max_directives),
        ]
        if not server.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self.rules = tuple(rules)
        self._prepared: SizedLRU[str, Prepared] = SizedLRU(
            max_cost=CACHE_BYTES,
            max_entry_cost=MAX_CACHED_LENGTH * AST_BYTES_PER_CHARACTER + PREPARED_OVERHEAD,
        )

    def prepare(self, query: str) -> Prepared:
        """``query`` parsed and validated, once per distinct (short) document."""
        prepared = self._prepared.get(query)
        if prepared is None:
            prepared = self._prepare(query)
            cost = len(query) * AST_BYTES_PER_CHARACTER + PREPARED_OVERHEAD
            self._prepared.put(query, prepared, cost)
        return prepared

    def _prepare(self, query: str) -> Prepared:
        try:
            document = parse(query, max_tokens=self.max_tokens)
        except GraphQLError as error:
            return Prepared(None, (error,))
        except RecursionError:
            return Prepared(None, (GraphQLError("The document is nested too deeply."),))
        if has_long_number(document):
            return Prepared(document, long_number=True)
        return Prepared(document, tuple(validate(self.schema, document, self.rules)))

    async def execute(
        self,
        query: str,
        *,
        variables: dict[str, Any] | None,
        context: Any,
        operation_name: str | None,
        prepared: Prepared | None = None,
    ) -> ExecutionResult:
        """Run ``query`` (``prepared``: it parsed and validated already, by ``prepare``)."""
        prepared = prepared or self.prepare(query)
        if prepared.document is None or prepared.errors:
            return ExecutionResult(None, list(prepared.errors))
        if not variables and (static := prepared.static.get(operation_name)) is not None:
            return static
        result = execute(
            self.schema,
            prepared.document,
            executor_class=AcyclicExecutor,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )
        if isawaitable(result):
            result = await result
        if (
            not variables
            and not result.errors
            and len(prepared.static) < MAX_STATIC_RESULTS
            and is_static(prepared.document, operation_name)
        ):
            prepared.static[operation_name] = result
        return result
