"""The planned path for root ``job(id:)`` reads (graphql/compiled.py): the same answers as
Strawberry's own execution, for what it plans and for what it hands back to graphql-core."""

from __future__ import annotations

from typing import Any

import pytest

from jobgate.config import ServerSettings
from jobgate.graphql.context import Context
from jobgate.graphql.execution import Executor
from jobgate.graphql.schema import build_schema
from tests import harness
from tests.graphql.test_fast_fields import every_seeded_id, gw, strawberry_schema

__all__ = ["gw"]  # the fixture, shared with test_fast_fields

SERVER = ServerSettings(max_tokens=20_000, max_depth=12, max_aliases=64, max_ids=50)
SCALARS = "id source provider nativeId status providerStatus createdAt updatedAt __typename"


async def both(
    gw: harness.Gateway, query: str, variables: dict[str, Any] | None = None
) -> tuple[Any, Any, int]:
    """Strawberry's answer, the app executor's answer, and how many the plan answered."""

    def context() -> Context:
        return Context(gateway=gw.app.state.gateway, server=SERVER, request_id="r")

    expected = await strawberry_schema().execute(
        query, variable_values=variables, context_value=context()
    )
    executor = Executor(build_schema(), SERVER)
    got = await executor.execute(query, variables=variables, context=context(), operation_name=None)
    assert executor.planner is not None
    return (
        (expected.data, [e.formatted for e in expected.errors or ()]),
        (got.data, [e.formatted for e in got.errors or ()]),
        executor.planner.answered,
    )


def aliased(ids: list[str], fields: str = SCALARS) -> tuple[str, dict[str, str]]:
    names = [f"i{n}" for n in range(len(ids))]
    head = ", ".join(f"${name}: ID!" for name in names)
    body = " ".join(f"{name}: job(id: ${name}) {{ {fields} }}" for name in names)
    return f"query({head}) {{ {body} }}", dict(zip(names, ids, strict=True))


async def test_every_providers_jobs_answer_as_strawberry_does(gw: harness.Gateway) -> None:
    ids = [*every_seeded_id(), "ingest:7505e000009ZZZZAAW", "hub:9999"]  # two not found
    query, variables = aliased(ids)
    expected, got, planned = await both(gw, query, variables)
    assert got == expected and planned == 1
    data, errors = got
    assert errors == [] and data["i0"]["__typename"] == "Job"
    assert {job["provider"] for job in data.values() if job} == {
        "DATA_CLOUD",
        "CONTENT_HUB",
        "BIGCHANGE",
        "WORKFLOW_MANAGER",
    }
    assert list(data)[-2:] == [f"i{len(ids) - 2}", f"i{len(ids) - 1}"]
    assert list(data.values())[-2:] == [None, None]


@pytest.mark.parametrize(
    "query",
    [
        '{ job(id: "field:1009") { id state: providerStatus object: providerStatus } }',
        '{ __typename a: job(id: "gis:j1Xo9") { status } b: job(id: "hub:9999") { id } }',
        'query Named { job(id: "ingest:7505e000001NLkVAAW") { createdAt updatedAt } }',
    ],
)
async def test_ids_written_in_the_document_answer_as_strawberry_does(
    gw: harness.Gateway, query: str
) -> None:
    expected, got, planned = await both(gw, query)
    assert got == expected and planned == 1


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        # A job whose lookup fails: graphql-core shapes the error.
        ('{ a: job(id: "nocolon") { id } b: job(id: "field:1009") { id } }', None),
        ('{ job(id: "unknown:1") { id } }', None),
        # An ID given as a number: graphql-core coerces it.
        ("query($i: ID!) { job(id: $i) { id } }", {"i": 1009}),
        # A variable left out: graphql-core says so.
        ("query($i: ID!) { job(id: $i) { id } }", {}),
    ],
)
async def test_what_the_plan_cannot_answer_graphql_core_does(
    gw: harness.Gateway, query: str, variables: dict[str, Any] | None
) -> None:
    expected, got, planned = await both(gw, query, variables)
    assert got == expected and planned == 0
    assert got[1], "each of these answers with an error"


@pytest.mark.parametrize(
    "query",
    [
        '{ job(id: "field:1009") { id details { __typename } } }',  # an object field
        '{ job(id: "field:1009") { allowedActions } }',  # a list
        '{ job(id: "field:1009") { ...F } } fragment F on Job { id }',
        '{ job(id: "field:1009") { id @include(if: true) } }',
        '{ job(id: "field:1009") { id } job(id: "field:1009") { id } }',  # a repeated key
        '{ job(id: "field:1009") { id id } }',  # a repeated key
        '{ jobs(ids: ["field:1009"]) { id } }',
        '{ sources { name } job(id: "field:1009") { id } }',
    ],
)
async def test_other_shapes_are_left_to_graphql_core(gw: harness.Gateway, query: str) -> None:
    expected, got, planned = await both(gw, query)
    assert got == expected and planned == 0


async def test_an_operation_name_is_checked_on_every_request(gw: harness.Gateway) -> None:
    executor = Executor(build_schema(), SERVER)
    query = 'query Named { job(id: "field:1009") { id } }'
    answers = []
    for name in ("Named", "Other", None, "Named"):
        context = Context(gateway=gw.app.state.gateway, server=SERVER, request_id="r")
        result = await executor.execute(query, variables=None, context=context, operation_name=name)
        answers.append((result.data, [e.message for e in result.errors or ()]))
    named = ({"job": {"id": "field:1009"}}, [])
    assert answers == [named, (None, ["Unknown operation named 'Other'."]), named, named]
    assert executor.planner is not None and executor.planner.answered == 3


async def test_the_plan_reads_each_job_once_in_one_batch(gw: harness.Gateway) -> None:
    ids = [*every_seeded_id()[:6], every_seeded_id()[0]]  # one id twice
    query, variables = aliased(ids, "id")
    executor = Executor(build_schema(), SERVER)
    context = Context(gateway=gw.app.state.gateway, server=SERVER, request_id="r")
    batches: list[list[str]] = []
    load = context.job_loader.load_fn

    async def counted(keys: Any) -> Any:
        batches.append(list(keys))
        return await load(keys)

    context.job_loader.load_fn = counted
    result = await executor.execute(
        query, variables=variables, context=context, operation_name=None
    )
    assert result.errors is None and result.data is not None
    assert [job["id"] for job in result.data.values()] == ids
    assert batches == [ids[:6]]
