"""Query shapes: literals become variables of a template parsed and validated once per shape;
every answer, error and location is the one the document itself gives."""

from __future__ import annotations

from typing import Any

import pytest

from jobgate.config import ServerSettings
from tests import harness

LITERAL_QUERIES = [
    '{ a: job(id: "ingest:7505e000001NLkPAAW") { id status } b: job(id: "hub:6161") { id } }',
    '{ a: job(id: "ingest:7505e000001NLkQAAW") { id status } b: job(id: "hub:6162") { id } }',
    '{ a: job(id: "ingest:nosuchjob-with-a-much-longer-id") { id } b: job(id: "nope") { id } }',
    '{ a: job(id: "x") { id } b: job(id: "nope-nope-nope") { id } c: job(id: "hub:abc") { id } }',
    '{ searchJobs(first: 2, filter: {sources: ["hub"]}) { edges { node { id } } } }',
    '{ searchJobs(first: 3, filter: {sources: ["ingest"]}) { edges { node { id } } } }',
    "{ searchJobs(first: 99999999999) { edges { cursor } } }",  # not an Int
    "{ searchJobs(first: 1.5) { edges { cursor } } }",
    '{ searchJobs(first: "2") { edges { cursor } } }',
    '{ job(id: "ingest:\\u0037505e000001NLkPAAW") { id } }',  # an escape: the usual path
    '{ jobs(ids: ["field:1009", "gis:j1Xo9", 12]) { id } }',
    "{ job(id: 1009) { id } }",
    'query($x: ID!) { a: job(id: $x) { id } b: job(id: "field:1002") { id } }',
    'mutation { closeJob(id: "ingest:7505e000001NLkPAAW") { job { status } } }',
    '{ job(id: "ingest:7505e000001NLkPAAW") { id } }\n{ job(id: "hub:6161") { id } }',
]


async def answers(server: ServerSettings, queries: list[str]) -> list[dict[str, Any]]:
    found = []
    for query in queries:
        async with harness.gateway(server=server) as gw:
            variables = {"x": "hub:6161"} if "$x" in query else None
            response = await gw.client.post(
                "/graphql", json={"query": query, "variables": variables}
            )
            found.append(response.json())
    return found


async def test_every_answer_equals_the_one_without_shapes() -> None:
    shaped = await answers(ServerSettings(), LITERAL_QUERIES)
    plain = await answers(ServerSettings(document_cache=False), LITERAL_QUERIES)
    for query, mine, theirs in zip(LITERAL_QUERIES, shaped, plain, strict=True):
        assert mine == theirs, query


async def test_a_shape_is_parsed_and_validated_once() -> None:
    async with harness.gateway() as gw:
        executor = gw.app.state.endpoint.executor
        parses = 0
        original = executor._prepare

        def counting(query: str) -> Any:
            nonlocal parses
            parses += 1
            return original(query)

        executor._prepare = counting
        ids = ["ingest:7505e000001NLkPAAW", "ingest:7505e000001NLkQAAW", "field:1009", "x:1"]
        for job_id in ids * 3:
            body = await gw.gql(f'{{ job(id: "{job_id}") {{ id status }} }}')
            assert "errors" not in body or body["errors"][0]["extensions"]["code"] == "INVALID_ID"
    assert parses == 1


async def test_error_locations_point_into_the_request_text() -> None:
    query = '{ a: job(id: "%s") { id } b: job(id: "bad") { id } }'
    async with harness.gateway() as gw:
        for first in ("hub:6161", "hub:616100000000000000"):
            body = await gw.gql(query % first)
            [error] = body["errors"]
            assert error["path"] == ["b"]
            column = (query % first).index("b: job") + 1
            assert error["locations"] == [{"line": 1, "column": column}]


@pytest.mark.parametrize("first", [1, 100])
async def test_limits_still_apply_to_every_query_of_a_shape(first: int) -> None:
    aliases = " ".join(f'j{i}: job(id: "hub:{i}") {{ id }}' for i in range(20))
    async with harness.gateway() as gw:
        for _ in range(first):
            body = await gw.gql("{ " + aliases + " }")
            assert "data" not in body and "aliases" in body["errors"][0]["message"]
