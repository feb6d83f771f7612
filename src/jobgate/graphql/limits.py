"""Limits on a GraphQL document, checked before anything runs.

``document_limits_rule`` is a validation rule for depth, aliases and directives per operation.
It measures each fragment once and reuses the measure wherever the fragment is spread, so its
cost grows with the document's size: Strawberry's QueryDepthLimiter and MaxAliasesLimiter walk
every path through the fragments (a few fragments spreading each other twice take minutes) and
fail on an unknown fragment. Depth counts nested selection sets (``{ job { id } }`` is 1);
introspection fields are left to graphql-core's MaxIntrospectionDepthRule, as graphql-armor does.

``inspect_operation`` finds the operation a request would run (for CSRF, scopes and the 405 for
mutations over GET) and request-level problems: no operation, an ambiguous or unknown
``operationName``, and number literals long enough to break ``int()`` (Python refuses to convert
more than 4,300 digits, which would surface as an internal error deep in validation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql.language import BREAK, SKIP, VisitorAction

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Visitor,
    visit,
)

MAX_NUMBER_LENGTH = 100  # digits in one Int or Float literal: far beyond any real value


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int = 0
    aliases: int = 0
    directives: int = 0


class _Measurer:
    def __init__(self, document: DocumentNode) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.measured: dict[str, Measure] = {}
        self.entered: set[str] = set()

    def operation(self, node: OperationDefinitionNode) -> Measure:
        inner = self.selection_set(node.selection_set)
        own = len(node.directives or ()) + sum(
            len(v.directives or ()) for v in node.variable_definitions or ()
        )
        return Measure(inner.depth, inner.aliases, inner.directives + own)

    def selection_set(self, node: SelectionSetNode | None) -> Measure:
        depth = aliases = directives = 0
        for selection in node.selections if node is not None else ():
            directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                inner = self.selection_set(selection.selection_set)
                if selection.alias is not None:
                    aliases += 1
                introspection = selection.name.value.startswith("__")
                if selection.selection_set is not None and not introspection:
                    depth = max(depth, 1 + inner.depth)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
                depth = max(depth, inner.depth)
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
                depth = max(depth, inner.depth)
            else:  # pragma: no cover - graphql-core has no other selection kinds
                continue
            aliases += inner.aliases
            directives += inner.directives
        return Measure(depth, aliases, directives)

    def fragment(self, name: str) -> Measure:
        if name in self.measured:
            return self.measured[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.entered:
            return Measure()  # unknown or cyclic: KnownFragmentNames / NoFragmentCycles say so
        self.entered.add(name)
        inner = self.selection_set(fragment.selection_set)
        measure = Measure(
            inner.depth, inner.aliases, inner.directives + len(fragment.directives or ())
        )
        self.measured[name] = measure
        return measure


def measure_operations(document: DocumentNode) -> list[Measure]:
    """Each operation's depth, aliases and directives, in document order."""
    measurer = _Measurer(document)
    return [
        measurer.operation(d)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]


def document_limits_rule(
    max_depth: int, max_aliases: int, max_directives: int
) -> type[ASTValidationRule]:
    class DocumentLimitsRule(ASTValidationRule):
        def enter_document(self, node: DocumentNode, *_args: Any) -> VisitorAction:
            measurer = _Measurer(node)
            for definition in node.definitions:
                if not isinstance(definition, OperationDefinitionNode):
                    continue
                name = definition.name.value if definition.name else "anonymous"
                try:
                    measure = measurer.operation(definition)
                except RecursionError:
                    self.report_error(
                        GraphQLError(f"Operation '{name}' is nested too deeply.", definition)
                    )
                    continue
                for found, limit, what in (
                    (measure.depth, max_depth, "depth {}"),
                    (measure.aliases, max_aliases, "{} aliases"),
                    (measure.directives, max_directives, "{} directives"),
                ):
                    if found > limit:
                        has = what.format(found)
                        message = f"Operation '{name}' has {has}; the limit is {limit}."
                        self.report_error(GraphQLError(message, definition))
            return SKIP

    return DocumentLimitsRule


@dataclass(frozen=True, slots=True)
class Inspection:
    """What a request would run; ``problem`` is a reason to refuse it before running anything.

    ``operation`` is None when the document does not parse: execution reports the syntax error.
    """

    operation: OperationType | None = None
    problem: str | None = None
    name: str | None = None  # the chosen operation's name, if it has one


# Longer documents are parsed every time: no cache may become a way to pin memory.
MAX_CACHED_LENGTH = 10_000


def inspect_operation(
    document: DocumentNode | None, operation_name: str | None, *, long_number: bool = False
) -> Inspection:
    """What a parsed document would run for ``operation_name`` (cheap: the document is parsed
    once, by the executor's cache). ``long_number``: the document has a number literal too long
    to convert (found when it was parsed)."""
    if document is None:
        return Inspection()
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        if len(operations) != 1:
            problem = (
                "The document has no operation to run."
                if not operations
                else "The document has several operations: name one with operationName."
            )
            return Inspection(problem=problem)
        chosen = operations[0]
    else:
        named = [o for o in operations if o.name is not None and o.name.value == operation_name]
        if not named:
            return Inspection(problem=f"No operation named {operation_name[:100]!r}.")
        chosen = named[0]
    name = chosen.name.value if chosen.name else None
    if long_number:
        return Inspection(
            chosen.operation, f"A number literal is longer than {MAX_NUMBER_LENGTH} digits.", name
        )
    return Inspection(chosen.operation, name=name)


def has_long_number(document: DocumentNode) -> bool:
    """Whether a number literal is too long for ``int()`` (validation would fail on it)."""
    finder = _LongNumber()
    visit(document, finder)
    return finder.found


class _LongNumber(Visitor):
    found = False

    def enter_int_value(self, node: IntValueNode, *_args: Any) -> VisitorAction:
        return self._check(node.value)

    def enter_float_value(self, node: FloatValueNode, *_args: Any) -> VisitorAction:
        return self._check(node.value)

    def _check(self, value: str) -> VisitorAction:
        if len(value) > MAX_NUMBER_LENGTH:
            self.found = True
            return BREAK
        return None
