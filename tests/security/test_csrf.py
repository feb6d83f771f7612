"""CSRF prevention (Apollo Router's rule): nothing a browser sends unasked runs without a header."""

from __future__ import annotations

import pytest

from jobgate.config import ServerSettings
from tests import harness
from tests.harness import Gateway
from tests.security.support import READER_KEY, gateway

QUERY = "{ sources { name } }"
MUTATION = 'mutation { abortJob(id: "ingest:7505e000001NLkPAAW") { error { code } } }'


async def test_a_get_query_without_a_preflight_header_is_refused(gw: Gateway) -> None:
    for accept in ("application/json", "application/graphql-response+json", "*/*"):
        response = await gw.client.get(
            "/graphql", params={"query": QUERY}, headers={"accept": accept}
        )
        assert response.status_code == 400
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "CSRF_BLOCKED"
        assert "x-jobgate-csrf" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [
        {"apollo-require-preflight": "true"},
        {"x-apollo-operation-name": "Sources"},
        {"x-jobgate-csrf": "1"},
    ],
)
async def test_a_preflight_header_lets_a_get_query_run(
    gw: Gateway, headers: dict[str, str]
) -> None:
    response = await gw.client.get("/graphql", params={"query": QUERY}, headers=headers)
    assert response.status_code == 200
    assert len(response.json()["data"]["sources"]) == 4


async def test_an_empty_preflight_header_does_not_count(gw: Gateway) -> None:
    response = await gw.client.get(
        "/graphql", params={"query": QUERY}, headers={"x-jobgate-csrf": " "}
    )
    assert response.status_code == 400


async def test_a_bearer_credential_forces_a_preflight_so_get_works_with_auth() -> None:
    async with gateway() as gw:
        for headers in ({"x-api-key": READER_KEY}, {"authorization": f"Bearer {READER_KEY}"}):
            response = await gw.client.get("/graphql", params={"query": QUERY}, headers=headers)
            assert response.status_code == 200, response.text


async def test_basic_credentials_do_not_count_browsers_send_them_unasked(gw: Gateway) -> None:
    response = await gw.client.get(
        "/graphql", params={"query": QUERY}, headers={"authorization": "Basic dTpw"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", b'{"query": "mutation { __typename }"}'),
        ("text/plain; charset=utf-8", b'{"query": "{ __typename }"}'),
        ("application/x-www-form-urlencoded", b"query=%7B__typename%7D"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="q"\r\n'),
        (None, b'{"query": "{ __typename }"}'),
    ],
)
async def test_simple_posts_are_refused_before_anything_runs(
    gw: Gateway, content_type: str | None, content: bytes
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await gw.client.post("/graphql", content=content, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "CSRF_BLOCKED"
    # With a preflight header they are simply not JSON: 415.
    allowed = await gw.client.post(
        "/graphql", content=content, headers={**headers, "apollo-require-preflight": "1"}
    )
    assert allowed.status_code == 415


async def test_a_mutation_over_get_is_405_with_or_without_a_header(gw: Gateway) -> None:
    for headers in ({}, {"x-jobgate-csrf": "1"}):
        response = await gw.client.get("/graphql", params={"query": MUTATION}, headers=headers)
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
    named = "query A { __typename } mutation B { __typename }"
    response = await gw.client.get("/graphql", params={"query": named, "operationName": "B"})
    assert response.status_code == 405
    assert gw.store("ingest").jobs["7505e000001NLkPAAW"]["state"] == "Open"


async def test_json_posts_need_no_header(gw: Gateway) -> None:
    assert (await gw.client.post("/graphql", json={"query": QUERY})).status_code == 200


async def test_csrf_prevention_can_be_switched_off_and_the_header_renamed() -> None:
    async with harness.gateway(server=ServerSettings(csrf_prevention=False)) as gw:
        response = await gw.client.get("/graphql", params={"query": QUERY})
        assert response.status_code == 200
    async with harness.gateway(server=ServerSettings(csrf_header="x-our-app")) as gw:
        ours = await gw.client.get("/graphql", params={"query": QUERY}, headers={"x-our-app": "1"})
        assert ours.status_code == 200
        default = await gw.client.get(
            "/graphql", params={"query": QUERY}, headers={"x-jobgate-csrf": "1"}
        )
        assert default.status_code == 400
