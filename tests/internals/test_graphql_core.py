"""jobgate.internals.graphql_core: the executor still lets go of a request when it answers."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from graphql.execution.executor import Executor
from graphql.execution.incremental.incremental_executor import IncrementalExecutor

from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema, GraphQLString, execute, parse
from jobgate.internals.graphql_core import AcyclicExecutor
from tests.internals.conftest import check_version

CHANGED = "graphql-core changed an internal jobgate/internals/graphql_core.py relies on: "


class Context:
    pass


def _schema() -> GraphQLSchema:
    def hello(_root: object, info: Any) -> str:
        return "world"

    return GraphQLSchema(
        GraphQLObjectType("Query", {"hello": GraphQLField(GraphQLString, resolve=hello)})
    )


def test_written_against_the_installed_version() -> None:
    check_version("graphql-core", "graphql_core")


def test_the_executor_it_extends_is_there() -> None:
    assert hasattr(Executor, "build_response"), CHANGED + "build_response"
    assert hasattr(Executor, "execute_operation"), CHANGED + "execute_operation"


def test_the_schema_declares_no_incremental_delivery() -> None:
    """The plain Executor cannot deliver @defer or @stream: jobgate's schema must not declare
    them, so that documents using them are refused by validation, never half-run."""
    from jobgate.graphql.schema import build_schema

    schema = build_schema()._schema
    assert schema.get_directive("defer") is None and schema.get_directive("stream") is None


def test_a_request_is_freed_without_the_cycle_collector() -> None:
    schema, document = _schema(), parse("{ hello }")
    for executor, freed in ((AcyclicExecutor, True), (IncrementalExecutor, False)):
        context = Context()
        alive = weakref.ref(context)
        gc.disable()
        try:
            result = execute(schema, document, context_value=context, executor_class=executor)
            assert result.data == {"hello": "world"}  # type: ignore[union-attr]
            del context, result
            assert (alive() is None) is freed, CHANGED + f"{executor.__name__} holds a cycle"
        finally:
            gc.enable()
            gc.collect()
