"""Operation shapes: queries that differ only in their literals are parsed and validated once.

Clients that write ids into the document (GraphiQL users, many frontends) make every document
new, and parsing plus validating one costs milliseconds. A query's *shape* is its text with each
string and number literal blanked; found with one regular expression, before any parse. The
first query of a shape is parsed and validated as usual; if it is valid, each literal becomes a
variable typed by its position (``job(id: "x")`` → ``job(id: $jg0)`` with ``$jg0: ID!``) and
that document, validated once more, serves every later query of the shape: the literals go in
as variable values. Limits hold (a shape's depth, aliases and tokens do not depend on its
literals); a literal the shape cannot take (a too-long number, an escaped string, a value its
type refuses) sends the request the usual way, so errors read as they always do; and error
locations are moved back to where the request's own text has them.

Queries only: mutations keep their exact document (the Idempotency-Key guard fingerprints it).
Anything unusual — block strings, comments, several operations, literals in variable
defaults — is left to the usual path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FloatValueNode,
    GraphQLError,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    IntValueNode,
    ListTypeNode,
    NamedTypeNode,
    NameNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    OperationType,
    SourceLocation,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    TypeNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from jobgate.graphql.limits import MAX_NUMBER_LENGTH
from jobgate.lru import SizedLRU

# A string literal (no block strings: refused before this runs) or a number not inside a name.
_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])')
PREFIX = "jg"
MAX_SHAPES_BYTES = 4_000_000  # an estimate: ~200 bytes of template per character of shape
MAX_ENTRY = 400_000
Literal = StringValueNode | IntValueNode | FloatValueNode


@dataclass(frozen=True, slots=True)
class Template:
    document: DocumentNode
    slots: tuple[str, ...]  # variable names, in the order of the literals in the text
    spans: tuple[tuple[int, int, int], ...]  # each literal's line, column and length, as first seen


@dataclass(frozen=True, slots=True)
class Shaped:
    """A request matched to its shape: the template, and the variables it runs with."""

    template: Template
    variables: dict[str, Any]
    spans: tuple[tuple[int, int, int], ...]  # the request's own literals

    def locate(self, location: SourceLocation) -> SourceLocation:
        """A location in the template's first text, moved to the same place in this one."""
        shift = sum(
            mine[2] - first[2]
            for first, mine in zip(self.template.spans, self.spans, strict=True)
            if first[0] == location.line and first[1] < location.column
        )
        return SourceLocation(location.line, location.column + shift)


@dataclass
class Shapes:
    """The templates of the query shapes seen, by shape, in a bounded cache."""

    schema: GraphQLSchema
    prepare: Callable[[str], tuple[DocumentNode | None, bool]]  # a text's document, valid?
    validate: Callable[[DocumentNode], list[GraphQLError]]
    # A shape's template, or False for a shape the usual path must take.
    _templates: SizedLRU[str, Template | bool] = field(
        default_factory=lambda: SizedLRU(max_cost=MAX_SHAPES_BYTES, max_entry_cost=MAX_ENTRY)
    )

    def match(self, text: str, variables: Mapping[str, Any] | None) -> Shaped | None:
        """The request as its shape's template and variables; None: take the usual path."""
        if '"""' in text or "#" in text:
            return None
        found = list(_LITERAL.finditer(text))
        if not found:
            return None
        values = [_value(m.group()) for m in found]
        if any(v is _REFUSED for v in values):
            return None
        if variables and any(name.startswith(PREFIX) for name in variables):
            return None
        key = _shape_key(text, found)
        template = self._templates.get(key)
        if template is None:
            template = self._learn(text, found) or False
            self._templates.put(key, template, len(key) * 200 + 2_000)
        if not isinstance(template, Template):
            return None
        merged = dict(variables or {})
        merged.update(zip(template.slots, values, strict=True))
        return Shaped(template, merged, _spans(text, found))

    def _learn(self, text: str, found: list[re.Match[str]]) -> Template | None:
        document, valid = self.prepare(text)
        if document is None or not valid:
            return None
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
            return None
        literals = _literals(self.schema, document)
        if literals is None or [n.loc.start for n, _ in literals if n.loc] != [
            m.start() for m in found
        ]:
            return None
        hoisted, slots = _hoist(document, operations[0], literals)
        if self.validate(hoisted):
            return None
        return Template(hoisted, slots, _spans(text, found))


_REFUSED: Any = object()


def _value(token: str) -> Any:
    if token.startswith('"'):
        return _REFUSED if "\\" in token else token[1:-1]
    if len(token) > MAX_NUMBER_LENGTH:
        return _REFUSED
    return float(token) if _is_float(token) else int(token)


def _is_float(number: str) -> bool:
    return "." in number or "e" in number or "E" in number


def _kind(token: str) -> str:
    if token.startswith('"'):
        return '"S"'
    return "0.0" if _is_float(token) else "0"


def _shape_key(text: str, found: list[re.Match[str]]) -> str:
    parts, at = [], 0
    for m in found:
        parts += [text[at : m.start()], _kind(m.group())]
        at = m.end()
    parts.append(text[at:])
    return "".join(parts)


def _spans(text: str, found: list[re.Match[str]]) -> tuple[tuple[int, int, int], ...]:
    spans, line, line_start, at = [], 1, 0, 0
    for m in found:
        newlines = text.count("\n", at, m.start())
        if newlines:
            line += newlines
            line_start = text.rfind("\n", 0, m.start()) + 1
        at = m.start()
        spans.append((line, m.start() - line_start + 1, m.end() - m.start()))
    return tuple(spans)


def _literals(
    schema: GraphQLSchema, document: DocumentNode
) -> list[tuple[Literal, GraphQLInputType]] | None:
    """Each literal with the input type of its position, in text order; None when one sits
    where no variable can stand (a variable's default value) or has no known type."""
    info = TypeInfo(schema)
    found: list[tuple[Literal, GraphQLInputType]] = []
    refused = False

    class Collect(Visitor):
        def enter_variable_definition(self, *_: Any) -> Any:
            return Visitor.SKIP  # a literal default stays a literal: the count check refuses it

        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            self.take(node)

        def enter_int_value(self, node: IntValueNode, *_: Any) -> None:
            self.take(node)

        def enter_float_value(self, node: FloatValueNode, *_: Any) -> None:
            self.take(node)

        def take(self, node: Literal) -> None:
            nonlocal refused
            kind = info.get_input_type()
            if kind is None:
                refused = True
            else:
                found.append((node, kind))

    visit(document, TypeInfoVisitor(info, Collect()))
    if refused:
        return None
    return sorted(found, key=lambda pair: pair[0].loc.start if pair[0].loc else -1)


def _hoist(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    literals: list[tuple[Literal, GraphQLInputType]],
) -> tuple[DocumentNode, tuple[str, ...]]:
    names = {id(node): f"{PREFIX}{i}" for i, (node, _) in enumerate(literals)}
    definitions = [
        VariableDefinitionNode(
            variable=VariableNode(name=NameNode(value=names[id(node)])),
            type=_type_node(kind),
            directives=(),
        )
        for node, kind in literals
    ]

    class Replace(Visitor):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> Any:
            if node is operation:
                copy = OperationDefinitionNode(
                    operation=node.operation,
                    name=node.name,
                    variable_definitions=(*(node.variable_definitions or ()), *definitions),
                    directives=node.directives,
                    selection_set=node.selection_set,
                    loc=node.loc,
                )
                return copy
            return None

        def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
            return _variable(node, names)

        def enter_int_value(self, node: IntValueNode, *_: Any) -> Any:
            return _variable(node, names)

        def enter_float_value(self, node: FloatValueNode, *_: Any) -> Any:
            return _variable(node, names)

    hoisted = visit(document, Replace())
    return hoisted, tuple(names[id(node)] for node, _ in literals)


def _variable(node: Literal, names: dict[int, str]) -> Any:
    name = names.get(id(node))
    if name is None:
        return None
    return VariableNode(name=NameNode(value=name), loc=node.loc)


def _type_node(kind: GraphQLInputType) -> TypeNode:
    if isinstance(kind, GraphQLNonNull):
        return NonNullTypeNode(type=_nullable_node(kind.of_type))
    return _nullable_node(kind)


def _nullable_node(kind: Any) -> NamedTypeNode | ListTypeNode:
    if isinstance(kind, GraphQLList):
        return ListTypeNode(type=_type_node(kind.of_type))
    return NamedTypeNode(name=NameNode(value=kind.name))
