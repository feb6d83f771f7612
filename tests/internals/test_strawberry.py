"""jobgate.internals.strawberry: the Strawberry internals the fast paths use still exist."""

from __future__ import annotations

import strawberry
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.cast import TYPE_CAST_ATTRIBUTE
from strawberry.types.field import StrawberryField

from graphql import GraphQLObjectType, GraphQLSchema, GraphQLUnionType
from jobgate.internals.strawberry import BASIC_RESOLVER, graphql_schema
from tests.internals.conftest import check_version

CHANGED = "Strawberry changed an internal jobgate/internals/strawberry.py relies on: "


@strawberry.type
class Thing:
    name: str


@strawberry.type
class Other:
    size: int


@strawberry.type
class Query:
    @strawberry.field
    def thing(self) -> Thing | Other:
        return Thing(name="x")


def test_written_against_the_installed_version() -> None:
    check_version("strawberry-graphql", "strawberry")


def test_the_graphql_core_schema_is_inside() -> None:
    inner = graphql_schema(strawberry.Schema(query=Query))
    assert isinstance(inner, GraphQLSchema), CHANGED + "Schema._schema"
    assert "Thing" in inner.type_map


def test_fields_point_back_to_their_definitions() -> None:
    inner = graphql_schema(strawberry.Schema(query=Query))
    thing = inner.type_map["Thing"]
    assert isinstance(thing, GraphQLObjectType)
    field = thing.fields["name"]
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    assert isinstance(definition, StrawberryField), CHANGED + "DEFINITION_BACKREF"
    for attribute in (
        "base_resolver",
        "extensions",
        "permission_classes",
        "arguments",
        "is_subscription",
        "default_resolver",
        "python_name",
    ):
        assert hasattr(definition, attribute), CHANGED + f"StrawberryField.{attribute}"
    assert definition.default_resolver is getattr, CHANGED + "the default resolver"
    resolver = getattr(field.resolve, "__name__", None)
    assert resolver == BASIC_RESOLVER, CHANGED + f"attribute fields resolve with {resolver}"


def test_union_members_point_back_to_their_classes() -> None:
    inner = graphql_schema(strawberry.Schema(query=Query))
    union = next(t for t in inner.type_map.values() if isinstance(t, GraphQLUnionType))
    for member in union.types:
        definition = member.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        assert isinstance(definition, StrawberryObjectDefinition), CHANGED + "union backrefs"
        for attribute in ("origin", "is_graphql_generic", "concrete_of", "is_type_of"):
            assert hasattr(definition, attribute), CHANGED + f"definition.{attribute}"
        assert definition.origin in (Thing, Other)
    cast = strawberry.cast(Thing, Other(size=1))
    assert hasattr(cast, TYPE_CAST_ATTRIBUTE), CHANGED + "strawberry.cast's marker"
