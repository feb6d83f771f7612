"""Run requests on the schema Strawberry built, without Strawberry's per-request pipeline.

Strawberry defines the schema (types, resolvers, descriptions). Running a request needs only
graphql-core: each distinct document is parsed and validated once (our limit rules included)
and kept in a bounded cache, then executed. Measured on Q0 ``{__typename}``, Strawberry's
``Schema.execute`` with its extensions cost ~95 µs a request; this path costs ~15 µs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

import strawberry
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
    subscribe,
    validate,
)
from jobgate.config import ServerSettings
from jobgate.graphql.compiled import Planner
from jobgate.graphql.errors import JobLookupError
from jobgate.graphql.limits import MAX_CACHED_LENGTH, document_limits_rule, has_long_number
from jobgate.graphql.shapes import Shaped, Shapes
from jobgate.internals.graphql_core import AcyclicExecutor
from jobgate.internals.strawberry import graphql_schema
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


class LookupAwareExecutor(AcyclicExecutor):
    answers = (JobLookupError,)


class Executor:
    def __init__(self, schema: strawberry.Schema, server: ServerSettings) -> None:
        self.schema: GraphQLSchema = graphql_schema(schema)
        self.max_tokens = server.max_tokens
        rules: list[type[ASTValidationRule]] = [
            *specified_rules,
            document_limits_rule(server.max_depth, server.max_aliases, server.max_directives),
        ]
        if not server.introspection:
            rules.append(NoSchemaIntrospectionCustomRule)
        self.rules = tuple(rules)
        # graphql-core's own executor unless the fast paths are on (jobgate.internals).
        self.executor_class = LookupAwareExecutor if server.fast_paths else None
        self.cache_documents = server.document_cache
        self._prepared: SizedLRU[str, Prepared] = SizedLRU(
            max_cost=CACHE_BYTES,
            max_entry_cost=MAX_CACHED_LENGTH * AST_BYTES_PER_CHARACTER + PREPARED_OVERHEAD,
        )
        # The commonest reads, planned once and run without graphql-core's executor.
        self.planner = Planner(self.schema) if server.fast_paths else None
        # Query shapes (literals as variables), with the document cache (graphql/shapes.py).
        self.shapes = Shapes(self.schema, self._learnable, self._validate)

    def lookup(
        self, query: str, variables: dict[str, Any] | None
    ) -> tuple[Prepared, Shaped | None]:
        """``query`` ready to run: its own cached document when this very text was seen, else
        its shape's template (and the variables to run it with), else parsed and validated."""
        if self.cache_documents and len(query) <= MAX_CACHED_LENGTH:
            known = self._prepared.get(query)
            if known is not None:
                return known, None
            shaped = self.shapes.match(query, variables)
            if shaped is not None:
                return Prepared(shaped.template.document), shaped
        return self.prepare(query), None

    def _learnable(self, query: str) -> tuple[DocumentNode | None, bool]:
        prepared = self._prepare(query)
        return prepared.document, not prepared.errors and not prepared.long_number

    def _validate(self, document: DocumentNode) -> list[GraphQLError]:
        return list(validate(self.schema, document, self.rules))

    def prepare(self, query: str) -> Prepared:
        """``query`` parsed and validated, once per distinct (short) document."""
        if not self.cache_documents:
            return self._prepare(query)
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

    async def subscribe(
        self,
        prepared: Prepared,
        *,
        variables: dict[str, Any] | None,
        context: Any,
        operation_name: str | None,
    ) -> AsyncIterator[ExecutionResult] | ExecutionResult:
        """A subscription's stream of results, or the result that says why it cannot start."""
        if prepared.document is None or prepared.errors:
            return ExecutionResult(None, list(prepared.errors))
        result = subscribe(
            self.schema,
            prepared.document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )
        if isawaitable(result):
            result = await result
        return result

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
        if self.planner is not None and context is not None:
            plan = self.planner.plan(prepared.document, operation_name)
            if plan is not None and (answer := await plan.run(variables, context)) is not None:
                self.planner.answered += 1
                return answer
        result = execute(
            self.schema,
            prepared.document,
            executor_class=self.executor_class,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
        )
        if isawaitable(result):
            result = await result
        if (
            not variables
            and self.cache_documents
            and not result.errors
            and len(prepared.static) < MAX_STATIC_RESULTS
            and is_static(prepared.document, operation_name)
        ):
            prepared.static[operation_name] = result
        return result
