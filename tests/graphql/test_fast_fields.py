"""The cheap resolvers `build_schema` installs: which fields get them, and the same answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission

from graphql import (
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    get_named_type,
)
from jobgate.config import ServerSettings
from jobgate.graphql.context import Context
from jobgate.graphql.details.data_cloud import DataCloudJobDetails
from jobgate.graphql.execution import Executor
from jobgate.graphql.schema import Mutation, Query, build_schema, resolve_job, resolve_jobs
from jobgate.graphql.subscription import Subscription
from jobgate.internals import strawberry as fast_fields
from jobgate.simulators.suite import build_vendors
from tests import harness

# Strawberry's own resolvers (closures in strawberry/schema/schema_converter.py).
STRAWBERRY_RESOLVERS = {"_get_basic_result", "_resolver", "_async_resolver"}


def strawberry_schema() -> strawberry.Schema:
    """The schema as Strawberry builds it: every resolver Strawberry's own."""
    return strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)


def object_types(schema: GraphQLSchema) -> dict[str, GraphQLObjectType]:
    return {
        name: type_
        for name, type_ in schema.type_map.items()
        if isinstance(type_, GraphQLObjectType) and not name.startswith("__")
    }


def is_fast(field: GraphQLField) -> bool:
    return getattr(field.resolve, "__module__", None) == fast_fields.__name__


def test_every_field_keeps_strawberrys_resolver_or_reads_its_attribute() -> None:
    fast = object_types(build_schema()._schema)
    reference = object_types(strawberry_schema()._schema)
    assert fast.keys() == reference.keys()
    roots = {("Query", "job"): resolve_job, ("Query", "jobs"): resolve_jobs}
    got_fast = set()
    for type_name, type_ in fast.items():
        for field_name, field in type_.fields.items():
            before = reference[type_name].fields[field_name]
            assert str(field.type) == str(before.type)
            if type_name == "Subscription":
                # Strawberry's own: `subscribe` runs the resolver, `resolve` passes each event on.
                assert field.subscribe is not None and not is_fast(field)
                continue
            if (type_name, field_name) in roots:
                assert field.resolve is roots[type_name, field_name]
            elif is_fast(field):
                # Only where Strawberry itself only read the attribute.
                assert getattr(before.resolve, "__name__", None) == "_get_basic_result"
                python_name = fast_fields.plain_attribute(before)
                assert python_name is not None
                assert getattr(field.resolve, "__name__", None) == f"resolve_{python_name}"
                got_fast.add((type_name, field_name))
            else:
                assert getattr(field.resolve, "__name__", None) in STRAWBERRY_RESOLVERS
                assert fast_fields.plain_attribute(before) is None
    job_fields = {name for type_name, name in got_fast if type_name == "Job"}
    assert (
        job_fields
        == set(fast["Job"].fields)
        == {
            "id",
            "source",
            "provider",
            "nativeId",
            "status",
            "providerStatus",
            "allowedActions",
            "details",
            "warnings",
            "createdAt",
            "updatedAt",
        }
    )
    # Every field with a resolver of its own keeps Strawberry's: the roots but job/jobs.
    assert not any(is_fast(f) for f in fast["Mutation"].fields.values())
    assert not any(is_fast(f) for f in fast["Subscription"].fields.values())
    assert getattr(fast["Query"].fields["sources"].resolve, "__name__", None) == "_resolver"
    # Every other type's fields are plain attributes.
    for type_name in fast.keys() - {"Query", "Mutation", "Subscription"}:
        assert {(type_name, f) for f in fast[type_name].fields} <= got_fast, type_name


def test_the_details_union_resolves_by_class_and_falls_back_to_strawberry() -> None:
    union = build_schema()._schema.type_map["JobDetails"]
    assert isinstance(union, GraphQLUnionType) and union.resolve_type is not None
    details = DataCloudJobDetails(
        object="Contact",
        operation="upsert",
        source_name=None,
        content_type=None,
        api_version=None,
        created_by_id=None,
        created_date=None,
        system_modstamp=None,
        content_url=None,
        retries=None,
        total_processing_time=None,
    )
    assert union.resolve_type(details, None, union) == "DataCloudJobDetails"  # type: ignore[arg-type]
    # Not one of the union's classes: Strawberry's resolver answers (here: refuses).
    reference = strawberry_schema()._schema.type_map["JobDetails"]
    assert isinstance(reference, GraphQLUnionType) and reference.resolve_type is not None

    class Info:
        field_name = "details"

    errors = []
    for resolve_type in (union.resolve_type, reference.resolve_type):
        with pytest.raises(Exception) as raised:
            resolve_type(object(), Info, union)  # type: ignore[arg-type]
        errors.append((type(raised.value), str(raised.value)))
    assert errors[0] == errors[1]


# A representative read: every field of every type a job can show, over every provider.
def selection(type_: GraphQLNamedType, depth: int = 0) -> str:
    if isinstance(type_, GraphQLUnionType):
        parts = [f"... on {m.name} {{ {selection(m, depth + 1)} }}" for m in type_.types]
        return "__typename " + " ".join(parts)
    assert isinstance(type_, GraphQLObjectType) and depth < 10
    parts = []
    for name, field in type_.fields.items():
        if field.args:
            continue
        inner = get_named_type(field.type)
        if isinstance(inner, GraphQLObjectType | GraphQLUnionType):
            parts.append(f"{name} {{ {selection(inner, depth + 1)} }}")
        else:
            parts.append(name)
    return " ".join(parts)


def every_seeded_id() -> list[str]:
    return [f"{v.source}:{native}" for v in build_vendors() for native in v.store.jobs]


def job_query() -> str:
    job = selection(build_schema()._schema.type_map["Job"])
    return f"query($ids: [ID!]!, $id: ID!) {{ jobs(ids: $ids) {{ {job} }} job(id: $id) {{ id }} }}"


def payload_query() -> str:
    schema = build_schema()._schema
    payload = selection(schema.type_map["JobPayload"])
    manage = selection(schema.type_map["ManageJobsPayload"])
    return f"""mutation {{
      closed: closeJob(id: "ingest:7505e000001NLkVAAW") {{ {payload} }}
      missing: cancelJob(id: "hub:9999") {{ {payload} }}
      locked: updateJob(id: "field:1010", input: {{description: "New"}}) {{ {payload} }}
      refused: updateJob(id: "field:1001", input: {{description: null}}) {{ {payload} }}
      inexact: setJobResult(id: "field:1009", status: COMPLETED_OK, result: "fixed") {{
        {payload} }}
      manage: manageJobs(action: UPGRADE, ids: ["gis:j4Cl2", "bad", "ingest:1"]) {{ {manage} }}
    }}"""


SERVER = ServerSettings(max_tokens=20_000, max_depth=12, max_aliases=20, max_ids=50)


@pytest.fixture
async def gw() -> AsyncIterator[harness.Gateway]:
    async with harness.gateway(server=SERVER) as running:
        yield running


async def both(
    gw: harness.Gateway, query: str, variables: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """The answer of Strawberry's own execution, and of the app's executor on `build_schema`."""

    def context() -> Context:  # a fresh DataLoader for each execution
        return Context(gateway=gw.app.state.gateway, server=SERVER, request_id="r")

    expected = await strawberry_schema().execute(
        query, variable_values=variables, context_value=context()
    )
    got = await Executor(build_schema(), SERVER).execute(
        query, variables=variables, context=context(), operation_name=None
    )
    return (
        (expected.data, [e.formatted for e in expected.errors or ()]),
        (got.data, [e.formatted for e in got.errors or ()]),
    )


async def test_reads_answer_as_strawberry_does(gw: harness.Gateway) -> None:
    ids = [*every_seeded_id(), "ingest:7505e000009ZZZZAAW", "hub:9999", "nocolon", "unknown:1"]
    for job_id in ["field:1009", "hub:9999", "nocolon", "gis:j1Xo9"]:
        expected, got = await both(gw, job_query(), {"ids": ids, "id": job_id})
        assert got == expected
    data, errors = got
    jobs = data["jobs"]
    # The comparison covered every provider's details and the error entries of a list.
    assert {j["details"]["__typename"] for j in jobs if j} == {
        "DataCloudJobDetails",
        "ContentHubJobDetails",
        "BigChangeJobDetails",
        "WorkflowManagerJobDetails",
    }
    assert any(j and j["details"].get("currentSteps") for j in jobs)
    assert any(j and j["details"].get("customFields") for j in jobs)
    assert jobs[-4:] == [None] * 4
    assert [e["path"] for e in errors] == [["jobs", len(ids) - 2], ["jobs", len(ids) - 1]]


async def test_lookup_errors_answer_as_strawberry_does(gw: harness.Gateway) -> None:
    too_many = {"ids": [f"ingest:{n}" for n in range(SERVER.max_ids + 1)], "id": "bad"}
    expected, got = await both(gw, job_query(), too_many)
    assert got == expected
    data, errors = got
    # `jobs` is non-null: its error nulls the whole answer.
    assert data is None
    assert [(e["path"], e["extensions"]["code"]) for e in errors] == [
        (["jobs"], "VALIDATION_FAILED")
    ]


async def test_mutation_payloads_answer_as_strawberry_does(gw: harness.Gateway) -> None:
    expected, got = await both(gw, payload_query())
    assert got == expected
    data, errors = got
    assert errors == []
    assert [f["field"] for f in data["locked"]["error"]["fieldErrors"]] == ["description"]
    assert data["refused"]["error"]["upstreamStatus"] == 422
    assert data["closed"]["error"]["providerStatus"] == "Aborted"
    assert [r["id"] for r in data["manage"]["results"]] == ["gis:j4Cl2", "bad", "ingest:1"]
    assert gw.faults["ingest"].calls("PATCH") == 0


async def test_a_field_with_its_own_resolver_still_runs_it(gw: harness.Gateway) -> None:
    query = "{ sources { name provider healthy supportedActions circuit retryInSeconds } }"
    expected, got = await both(gw, query)
    assert got == expected
    assert [s["name"] for s in got[0]["sources"]] == ["ingest", "hub", "field", "gis"]


# Generic: on any Strawberry schema, only plain attributes change.
class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Thing:
    name: str
    secret: str = strawberry.field(permission_classes=[Never])

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()

    @strawberry.field
    def times(self, n: int) -> str:
        return self.name * n


@strawberry.type
class ThingQuery:
    @strawberry.field
    def thing(self) -> Thing:
        return Thing(name="ab", secret="s")


async def test_install_leaves_resolvers_permissions_and_arguments_alone() -> None:
    schema = strawberry.Schema(query=ThingQuery)
    fields = object_types(schema._schema)["Thing"].fields
    before = {name: field.resolve for name, field in fields.items()}
    fast_fields.install(schema)
    assert is_fast(fields["name"])
    assert {n for n, f in fields.items() if f.resolve is before[n]} == {"secret", "shout", "times"}
    assert not is_fast(object_types(schema._schema)["ThingQuery"].fields["thing"])
    result = await schema.execute("{ thing { name shout times(n: 2) } }")
    assert result.data == {"thing": {"name": "ab", "shout": "AB", "times": "abab"}}
    denied = await schema.execute("{ thing { secret } }")
    assert denied.data is None
    assert [e.message for e in denied.errors or ()] == ["never"]
