"""schema/schema.graphql is exactly what `jobgate schema` prints."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from jobgate.cli import main

SCHEMA_FILE = Path(__file__).parent.parent / "schema" / "schema.graphql"


def test_schema_file_has_not_drifted() -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["schema"]) == 0
    assert SCHEMA_FILE.read_text() == printed.getvalue(), (
        "schema/schema.graphql is stale: run `jobgate schema > schema/schema.graphql`"
    )


def _signatures(sdl: str) -> set[str]:
    """Each root field as `name(arg: Type, ...): Type` (descriptions aside), and each union."""
    from graphql import GraphQLObjectType, GraphQLUnionType, build_schema

    schema = build_schema(sdl)
    found = set()
    for kind in (schema.query_type, schema.mutation_type):
        assert isinstance(kind, GraphQLObjectType)
        for name, field in kind.fields.items():
            args = ", ".join(f"{a}: {arg.type}" for a, arg in field.args.items())
            found.add(f"{name}({args}): {field.type}" if args else f"{name}: {field.type}")
    found |= {f"union {n}" for n, t in schema.type_map.items() if isinstance(t, GraphQLUnionType)}
    return found


def test_contract_names_are_in_the_schema() -> None:
    sdl = _signatures(SCHEMA_FILE.read_text())
    for name in [
        "job(id: ID!): Job",
        "jobs(ids: [ID!]!): [Job]!",
        "sources: [Source!]!",
        "cancelJob(id: ID!): JobPayload!",
        "closeJob(id: ID!): JobPayload!",
        "abortJob(id: ID!): JobPayload!",
        "manageJobs(action: ManageAction!, ids: [ID!]!): ManageJobsPayload!",
        "setJobResult(id: ID!, status: JobResultStatus!, result: String!): JobPayload!",
        "updateJob(id: ID!, input: UpdateJobInput!): JobPayload!",
        "union JobDetails",
    ]:
        assert name in sdl, name


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    """GraphiQL's Docs pane is the reference: nothing in the schema goes undescribed."""
    from graphql import (
        GraphQLEnumType,
        GraphQLInputObjectType,
        GraphQLObjectType,
        GraphQLUnionType,
    )
    from jobgate.graphql.schema import build_schema

    schema = build_schema()._schema
    silent = []
    for name, kind in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not kind.description and not isinstance(kind, GraphQLUnionType):
            silent.append(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, member in kind.fields.items():
                if not member.description:
                    silent.append(f"{name}.{field_name}")
                for argument_name, argument in getattr(member, "args", {}).items():
                    if not argument.description:
                        silent.append(f"{name}.{field_name}({argument_name})")
        if isinstance(kind, GraphQLEnumType):
            silent += [f"{name}.{v}" for v, value in kind.values.items() if not value.description]
    assert silent == []
