"""A short way through the commonest read: root ``job(id:)`` fields that select scalars.

``{ a: job(id: $a) { id providerStatus } b: job(id: $b) { id status } }`` is most of what a
frontend sends, and graphql-core spends ~250,000 CPU instructions a job on it: an asyncio
task per root field, field plans, resolve infos and completion for each scalar. A document of
exactly that shape (one query operation; root fields ``job`` with an ``id`` given as a literal
or an ``ID`` variable, or ``__typename``; under each, fields of ``Job`` that are scalars or
enums read from an attribute, or ``__typename``; no fragments, directives or repeated keys) is
planned once, and run by loading every id through the request's DataLoader at once and
serializing each field with its GraphQL type's own ``serialize``.

Anything it does not expect sends the request back to graphql-core, which answers it the usual
way: a variable that is not a string, a job that failed to load (its error is graphql-core's to
shape), a null where the schema says non-null, a serializer that raises. Nothing is read
twice: the request's DataLoader keeps what it loaded. tests/graphql/test_compiled.py compares
the answers with graphql-core's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
)
from jobgate.graphql.errors import JobLookupError
from jobgate.graphql.schema import job_or_error
from jobgate.graphql.types import JobType

# Documents whose plan (or the lack of one) is kept.
MAX_PLANS = 1024


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # the response key (alias or name)
    read: Callable[[Any, Any], Any] | None  # the field's resolver; None for __typename
    serialize: Callable[[Any], Any]
    non_null: bool


@dataclass(frozen=True, slots=True)
class _Root:
    key: str
    literal: str | None  # the id written in the document
    variable: str | None  # or the variable that holds it
    fields: tuple[_Field, ...] | None  # None: the root field is __typename


@dataclass(frozen=True, slots=True)
class Plan:
    roots: tuple[_Root, ...]
    query_name: str

    async def run(
        self, variables: Mapping[str, Any] | None, context: Any
    ) -> ExecutionResult | None:
        """The answer, or None when graphql-core must give it."""
        ids: list[str] = []
        for root in self.roots:
            if root.fields is None:
                continue
            value = root.literal
            if root.variable is not None:
                value = variables.get(root.variable) if variables else None
            if type(value) is not str:
                return None
            ids.append(value)
        loader = context.job_loader
        try:  # futures, not coroutines: no task each
            loaded = await asyncio.gather(*[loader.load(i) for i in ids])
        except Exception:
            return None
        data: dict[str, Any] = {}
        answers = iter(loaded)
        for root in self.roots:
            if root.fields is None:
                data[root.key] = self.query_name
                continue
            job = job_or_error(next(answers))  # as the `job` resolver sees it
            if isinstance(job, JobLookupError):
                return None  # graphql-core shapes the error
            if job is None:
                data[root.key] = None
                continue
            shown = _fields(root.fields, job)
            if shown is None:
                return None
            data[root.key] = shown
        return ExecutionResult(data)


def _fields(fields: tuple[_Field, ...], job: JobType) -> dict[str, Any] | None:
    shown: dict[str, Any] = {}
    try:
        for field in fields:
            if field.read is None:
                shown[field.key] = "Job"
                continue
            value = field.read(job, None)
            if value is None:
                if field.non_null:
                    return None
                shown[field.key] = None
            else:
                shown[field.key] = field.serialize(value)
    except Exception:
        return None
    return shown


class Planner:
    """Plans for documents of the shape above, kept per document (bounded)."""

    def __init__(self, schema: GraphQLSchema) -> None:
        query = schema.query_type
        job = schema.type_map.get("Job")
        self._job_field = query.fields.get("job") if query is not None else None
        self._query_name = query.name if query is not None else "Query"
        self._scalars: dict[str, _Field] = {}
        if isinstance(job, GraphQLObjectType):
            for name, field in job.fields.items():
                plain = _plain(name, field.type, field.resolve)
                if plain is not None:
                    self._scalars[name] = plain
        self._plans: dict[tuple[int, str | None], tuple[DocumentNode | None, Plan | None]] = {}
        self.answered = 0  # requests this path answered (tests, diagnostics)

    def plan(self, document: DocumentNode, operation_name: str | None) -> Plan | None:
        key = (id(document), operation_name)
        kept = self._plans.get(key)
        if kept is not None and (kept[0] is document or kept[1] is None):
            # A "no plan" entry keeps no document (it may be large): should its id be reused
            # by another document, that one merely goes to graphql-core. A plan keeps its
            # (small) document, so its id cannot be reused while the entry lives.
            return kept[1]
        plan = self._make(document, operation_name)
        if len(self._plans) >= MAX_PLANS:
            self._plans.clear()
        self._plans[key] = (document if plan is not None else None, plan)
        return plan

    def _make(self, document: DocumentNode, operation_name: str | None) -> Plan | None:
        if self._job_field is None or len(document.definitions) != 1:
            return None
        operation = document.definitions[0]
        if not isinstance(operation, OperationDefinitionNode):
            return None
        named = operation.name.value if operation.name else None
        if operation.operation is not OperationType.QUERY or operation.directives:
            return None
        if operation_name is not None and operation_name != named:
            return None
        id_variables = set()
        for definition in operation.variable_definitions or ():
            type_node = definition.type
            if isinstance(type_node, NonNullTypeNode):
                type_node = type_node.type
            if definition.default_value is not None or definition.directives:
                return None
            if not isinstance(type_node, NamedTypeNode) or type_node.name.value != "ID":
                return None
            id_variables.add(definition.variable.name.value)
        roots = []
        for selection in operation.selection_set.selections:
            root = self._root(selection, id_variables)
            if root is None:
                return None
            roots.append(root)
        keys = [root.key for root in roots]
        if len(set(keys)) != len(keys):
            return None
        return Plan(tuple(roots), self._query_name)

    def _root(self, selection: Any, id_variables: set[str]) -> _Root | None:
        if not isinstance(selection, FieldNode) or selection.directives:
            return None
        key = (selection.alias or selection.name).value
        if selection.name.value == "__typename":
            return _Root(key, None, None, None) if not selection.selection_set else None
        arguments = selection.arguments or ()
        if selection.name.value != "job" or len(arguments) != 1:
            return None
        argument = arguments[0]
        if argument.name.value != "id" or selection.selection_set is None:
            return None
        fields = self._selected(selection.selection_set)
        if fields is None:
            return None
        value = argument.value
        if isinstance(value, StringValueNode):
            return _Root(key, value.value, None, fields)
        if isinstance(value, VariableNode) and value.name.value in id_variables:
            return _Root(key, None, value.name.value, fields)
        return None

    def _selected(self, selection_set: SelectionSetNode) -> tuple[_Field, ...] | None:
        fields = []
        for selection in selection_set.selections:
            if not isinstance(selection, FieldNode) or selection.directives:
                return None
            if selection.arguments or selection.selection_set:
                return None
            key = (selection.alias or selection.name).value
            name = selection.name.value
            if name == "__typename":
                fields.append(_Field(key, None, str, True))
                continue
            known = self._scalars.get(name)
            if known is None:
                return None
            fields.append(_Field(key, known.read, known.serialize, known.non_null))
        keys = [field.key for field in fields]
        return tuple(fields) if len(set(keys)) == len(keys) else None


def _plain(name: str, type_: Any, resolve: Any) -> _Field | None:
    """A Job field that reads an attribute (``jobgate.internals.strawberry``) and is a scalar
    or an enum, possibly non-null."""
    if resolve is None or not getattr(resolve, "__name__", "").startswith("resolve_"):
        return None
    if getattr(resolve, "__module__", None) != "jobgate.internals.strawberry":
        return None
    non_null = isinstance(type_, GraphQLNonNull)
    inner = type_.of_type if non_null else type_
    if not isinstance(inner, GraphQLScalarType | GraphQLEnumType):
        return None
    return _Field(name, resolve, inner.serialize, non_null)
