"""Strawberry's internals, in one place: the graphql-core schema inside a Strawberry schema,
and cheaper resolvers on the schema Strawberry built, with the same answers.

Written against strawberry-graphql 0.341 (``requirements.lock``); tests/internals checks every
internal used here against the installed version. ``[server] fast_paths = false`` builds the
schema without ``install``.

Strawberry wraps every field's resolver, a plain attribute included: each ``Job.id`` goes
through ``_get_basic_result`` and ``StrawberryField.get_result`` before its ``getattr``. A
field whose value is just an attribute of its parent needs none of that, so ``install``
gives such fields a resolver that reads the attribute directly. Fields with a resolver of
their own, arguments, permission classes or extensions keep Strawberry's resolver.

A union's type is found by Strawberry's resolver walking the union's types (after a
``strawberry.cast`` check); ``install`` puts a class -> type name lookup in front of it,
which answers for the union's own classes and hands anything else to Strawberry's resolver.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

import strawberry
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.field import StrawberryField

from graphql import (
    GraphQLAbstractType,
    GraphQLField,
    GraphQLFieldResolver,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLTypeResolver,
    GraphQLUnionType,
)

_BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
# The name of Strawberry's resolver for a field that only reads an attribute.
BASIC_RESOLVER = "_get_basic_result"


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (what requests run on)."""
    return schema._schema


def install(
    schema: strawberry.Schema,
    root_resolvers: Mapping[tuple[str, str], GraphQLFieldResolver] | None = None,
) -> None:
    """Give ``schema``'s plain attribute fields and unions the cheap resolvers.

    ``root_resolvers``: (type name, field name) -> a graphql-core resolver that replaces
    Strawberry's for that field (same behaviour, without Strawberry's argument conversion).
    """
    for graphql_type in graphql_schema(schema).type_map.values():
        if graphql_type.name.startswith("__"):
            continue
        if isinstance(graphql_type, GraphQLObjectType):
            for field in graphql_type.fields.values():
                if (name := plain_attribute(field)) is not None:
                    field.resolve = attribute_resolver(name)
        elif isinstance(graphql_type, GraphQLUnionType):
            graphql_type.resolve_type = union_type_resolver(graphql_type)
    for (type_name, field_name), resolver in (root_resolvers or {}).items():
        graphql_type = graphql_schema(schema).type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        field = graphql_type.fields[field_name]
        definition = field.extensions.get(_BACKREF)
        # Only a field with nothing around its own resolver (no permissions, no extensions).
        assert isinstance(definition, StrawberryField), field_name
        assert not definition.extensions and not definition.permission_classes, field_name
        field.resolve = resolver


def plain_attribute(field: GraphQLField) -> str | None:
    """The Python attribute a field reads, when that is all its Strawberry resolver does."""
    definition = field.extensions.get(_BACKREF)
    if not isinstance(definition, StrawberryField):
        return None
    if (
        definition.base_resolver is not None
        or definition.extensions
        or definition.permission_classes
        or definition.arguments
        or field.args
        or definition.is_subscription
        # The default resolver of Strawberry's config: what ``get_result`` calls.
        or definition.default_resolver is not getattr
        # Strawberry's own shortcut for such fields; anything else (e.g. exception
        # handlers wrapped around the field) stays.
        or getattr(field.resolve, "__name__", None) != BASIC_RESOLVER
    ):
        return None
    return definition.python_name


def attribute_resolver(name: str) -> GraphQLFieldResolver:
    get = operator.attrgetter(name)

    def resolve(source: Any, _info: GraphQLResolveInfo[Any], **_args: Any) -> Any:
        return get(source)

    resolve.__name__ = resolve.__qualname__ = f"resolve_{name}"
    return resolve


def union_type_resolver(union: GraphQLUnionType) -> GraphQLTypeResolver | None:
    """A class -> name lookup before the union's own resolver (Strawberry's)."""
    fallback = union.resolve_type
    if fallback is None:
        return None
    names: dict[type, str] = {}
    for member in union.types:
        definition = member.extensions.get(_BACKREF)
        if (
            isinstance(definition, StrawberryObjectDefinition)
            and not definition.is_graphql_generic
            and definition.concrete_of is None
            and not definition.is_type_of
        ):
            names[definition.origin] = member.name
    return _lookup_then(names, fallback)


def _lookup_then(names: dict[type, str], fallback: GraphQLTypeResolver) -> GraphQLTypeResolver:
    def resolve_type(value: Any, info: GraphQLResolveInfo[Any], union: GraphQLAbstractType) -> Any:
        name = names.get(type(value))
        # A ``strawberry.cast`` object is typed by its cast: Strawberry's resolver knows how.
        if name is None or hasattr(value, TYPE_CAST_ATTRIBUTE):
            return fallback(value, info, union)
        return name

    return resolve_type
