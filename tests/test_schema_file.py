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


def test_contract_names_are_in_the_schema() -> None:
    sdl = SCHEMA_FILE.read_text()
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


def test_every_enum_and_enum_value_is_described() -> None:
    """GraphiQL's Docs pane says what each status, action, error code and provider means."""
    from graphql import GraphQLEnumType
    from jobgate.graphql.schema import build_schema

    schema = build_schema()._schema
    silent = [
        f"{name}.{value}" if value else name
        for name, kind in schema.type_map.items()
        if isinstance(kind, GraphQLEnumType) and not name.startswith("__")
        for value in ["", *kind.values]
        if not (kind.values[value].description if value else kind.description)
    ]
    assert silent == []
