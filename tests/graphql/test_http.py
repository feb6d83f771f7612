"""The HTTP surface: methods, content types, limits, GraphiQL, health, masking."""

from __future__ import annotations

import pytest

from jobgate.config import ServerSettings
from tests import harness
from tests.harness import Gateway

QUERY = '{ job(id: "ingest:7505e000001NLkPAAW") { id status } }'
MUTATION = 'mutation { abortJob(id: "ingest:7505e000001NLkPAAW") { error { code } } }'


async def test_get_query(gw: Gateway) -> None:
    # CSRF prevention: a GET needs a header no browser sends on its own (tests/security).
    response = await gw.client.get(
        "/graphql", params={"query": QUERY}, headers={"x-jobgate-csrf": "1"}
    )
    assert response.status_code == 200
    assert response.json()["data"]["job"]["status"] == "OPEN"
    assert response.headers["x-request-id"]


async def test_mutation_over_get_is_405_and_not_run(gw: Gateway) -> None:
    response = await gw.client.get("/graphql", params={"query": MUTATION})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert gw.store("ingest").jobs["7505e000001NLkPAAW"]["state"] == "Open"


async def test_graphiql_on_get_for_browsers(gw: Gateway) -> None:
    response = await gw.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_graphiql_can_be_switched_off() -> None:
    async with harness.gateway(server=ServerSettings(graphiql=False)) as gw:
        response = await gw.client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'["a", "list"]', "application/json", 400),
        (b'{"query": 42}', "application/json", 400),
        (b'{"query": "{ __typename }", "variables": [1]}', "application/json", 400),
        (b'{"query": "{ __typename }", "operationName": 3}', "application/json", 400),
        (b"query=%7B__typename%7D", "application/x-www-form-urlencoded", 400),  # CSRF
        (b"{ __typename }", "text/plain", 400),  # CSRF
        (b"{ __typename }", "application/graphql", 415),
        (b'{"query": "{ __typename }"}', "application/json; charset=latin-1", 415),
        (b'{"query": "\xff\xfe"}', "application/json", 400),
    ],
)
async def test_bad_requests_are_4xx_with_a_message(
    gw: Gateway, content: bytes, content_type: str, status: int
) -> None:
    response = await gw.client.post(
        "/graphql", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == status
    assert response.json()["errors"][0]["message"]
    assert "Traceback" not in response.text


async def test_body_limit() -> None:
    async with harness.gateway(server=ServerSettings(max_body_bytes=1000)) as gw:
        big = "{ __typename }" + " " * 2000
        response = await gw.client.post("/graphql", json={"query": big})
    assert response.status_code == 413


async def test_graphql_errors_keep_status_200_for_json(gw: Gateway) -> None:
    response = await gw.client.post("/graphql", json={"query": "{ nope }"})
    assert response.status_code == 200
    assert "Cannot query field 'nope'" in response.json()["errors"][0]["message"]


async def test_graphql_response_json_uses_400_for_invalid_documents(gw: Gateway) -> None:
    response = await gw.client.post(
        "/graphql",
        json={"query": "{ nope }"},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/graphql-response+json")


async def test_unacceptable_accept_header(gw: Gateway) -> None:
    response = await gw.client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept": "image/png"}
    )
    assert response.status_code == 406


async def test_depth_and_alias_limits() -> None:
    async with harness.gateway(server=ServerSettings(max_aliases=3, max_depth=1)) as gw:
        aliases = "{ " + " ".join(f"a{i}: __typename" for i in range(5)) + " }"
        body = await gw.gql(aliases)
        assert "data" not in body and "aliases" in body["errors"][0]["message"].lower()
        deep = '{ job(id: "ingest:x") { details { ... on DataCloudJobDetails { object } } } }'
        deep_body = await gw.gql(deep)
        assert "data" not in deep_body and "depth" in deep_body["errors"][0]["message"]


async def test_other_methods_are_405(gw: Gateway) -> None:
    response = await gw.client.put("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


async def test_unexpected_errors_are_masked_with_a_request_id(gw: Gateway) -> None:
    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    gw.app.state.gateway.read_jobs = explode  # a bug anywhere below the schema
    response = await gw.client.post(
        "/graphql", json={"query": QUERY}, headers={"x-request-id": "req-123"}
    )
    body = response.json()
    assert response.status_code == 200
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL", "requestId": "req-123"}
    assert "secret internal detail" not in response.text


async def test_healthz(gw: Gateway) -> None:
    response = await gw.client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_request_id_goes_to_upstreams(gw: Gateway) -> None:
    seen = gw.record_header("ingest", "x-request-id")
    await gw.client.post("/graphql", json={"query": QUERY}, headers={"x-request-id": "abc-1"})
    # The Salesforce token, its exchange for a Data Cloud token, then the read: all carry it.
    assert seen == ["abc-1"] * 3
