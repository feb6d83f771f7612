"""The default limits let every legitimate query through: measured on the schema itself."""

from __future__ import annotations

from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
    parse,
)
from jobgate.config import ServerSettings
from jobgate.graphql.limits import Measure, measure_operations
from jobgate.graphql.schema import build_schema
from tests.harness import Gateway

IDS = '["ingest:7505e000001NLkPAAW", "hub:6160", "field:1001", "gis:j1Xo9"]'
ROOT_ARGUMENTS = {
    "job": '(id: "ingest:7505e000001NLkPAAW")',
    "jobs": f"(ids: {IDS})",
    "cancelJob": '(id: "hub:6160")',
    "closeJob": '(id: "ingest:7505e000001NLkQAAW")',
    "abortJob": '(id: "ingest:7505e000001NLkRAAW")',
    "manageJobs": '(action: CLOSE, ids: ["gis:j1Xo9", "gis:j2Pq4"])',
    "setJobResult": '(id: "field:1001", status: COMPLETED_OK, result: "Done")',
    "updateJob": '(id: "field:1002", input: {description: "x"})',
}


def everything(field: GraphQLField) -> str:
    """A selection of every field below ``field``, each union member through a fragment."""
    named = get_named_type(field.type)
    if isinstance(named, GraphQLUnionType):
        return "{ __typename " + " ".join(
            f"... on {member.name} {_fields(member)}" for member in named.types
        ) + " }"  # fmt: skip
    if isinstance(named, GraphQLObjectType):
        return _fields(named)
    return ""


def _fields(object_type: GraphQLObjectType) -> str:
    return "{ " + " ".join(f"{n} {everything(f)}" for n, f in object_type.fields.items()) + " }"


def schema() -> GraphQLSchema:
    return build_schema()._schema


def test_the_deepest_legitimate_operation_fits_the_default_depth() -> None:
    graphql_schema = schema()
    deepest = Measure()
    for root in (graphql_schema.query_type, graphql_schema.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            document = parse(f"{root.name.lower()} {{ {name} {everything(field)} }}")
            [measure] = measure_operations(document)
            deepest = max(deepest, measure, key=lambda m: m.depth)
    # If this fails, the schema grew deeper: raise ServerSettings.max_depth with it.
    assert deepest.depth <= ServerSettings().max_depth
    assert deepest.depth >= 4  # manageJobs > results > job > details > ...


async def test_every_field_of_every_root_runs_under_the_default_limits(gw: Gateway) -> None:
    graphql_schema = schema()
    for root in (graphql_schema.query_type, graphql_schema.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            query = f"{root.name.lower()} {{ {name}{ROOT_ARGUMENTS.get(name, '')} {everything(field)} }}"  # noqa: E501
            body = await gw.gql(query)
            assert body.get("data") is not None, (name, body)


async def test_readme_queries_run(gw: Gateway) -> None:
    read = """{
      jobs(ids: ["ingest:7505e000001NLkPAAW", "ingest:7505e000001NLkVAAW", "ingest:missing"]) {
        id provider status providerStatus allowedActions
        details { ... on DataCloudJobDetails { object operation sourceName } }
      }
    }"""
    assert "errors" not in await gw.gql(read)
    write = """mutation {
      ok: closeJob(id: "ingest:7505e000001NLkPAAW") {
        job { id status providerStatus } error { code message }
      }
      refused: closeJob(id: "ingest:7505e000001NLkVAAW") {
        job { id } error { code message providerStatus }
      }
    }"""
    body = await gw.gql(write)
    assert body["data"]["refused"]["error"]["code"] == "INVALID_STATE"
