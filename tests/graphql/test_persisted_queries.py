"""Automatic persisted queries (Apollo's APQ protocol), as Apollo Client's link speaks it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from jobgate.config import ServerSettings
from tests import harness
from tests.harness import Gateway

QUERY = "query Job($id: ID!) { job(id: $id) { id status } }"
MUTATION = 'mutation { abortJob(id: "ingest:7505e000001NLkPAAW") { error { code } } }'
OPEN = "ingest:7505e000001NLkPAAW"
CSRF = {"x-jobgate-csrf": "1"}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def persisted(text: str, version: Any = 1) -> dict[str, Any]:
    return {"persistedQuery": {"version": version, "sha256Hash": sha256(text)}}


async def post(gw: Gateway, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await gw.client.post("/graphql", json=payload)
    return response.status_code, response.json()


async def test_the_handshake_learns_a_document_then_runs_it_by_its_hash(gw: Gateway) -> None:
    by_hash = {"variables": {"id": OPEN}, "extensions": persisted(QUERY)}
    status, body = await post(gw, by_hash)
    # 200, not 4xx: Apollo Client turns persisted queries off for good on a 400 or 500.
    assert status == 200
    assert body == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert gw.faults["ingest"].calls("GET") == 0
    status, body = await post(gw, {**by_hash, "query": QUERY})
    assert (status, body) == (200, {"data": {"job": {"id": OPEN, "status": "OPEN"}}})
    status, body = await post(gw, by_hash)
    assert (status, body) == (200, {"data": {"job": {"id": OPEN, "status": "OPEN"}}})
    # GET: the hash and the variables in the URL, short enough for any cache.
    params = {"variables": json.dumps({"id": OPEN}), "extensions": json.dumps(persisted(QUERY))}
    response = await gw.client.get("/graphql", params=params, headers=CSRF)
    assert response.json() == {"data": {"job": {"id": OPEN, "status": "OPEN"}}}


async def test_a_hash_that_does_not_match_its_document_is_refused_and_not_kept(
    gw: Gateway,
) -> None:
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha256("{ __typename }")}}
    status, body = await post(gw, {"query": QUERY, "variables": {"id": OPEN}, "extensions": wrong})
    assert status == 400
    assert "does not match" in body["errors"][0]["message"]
    status, body = await post(gw, {"extensions": wrong})
    assert body["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert gw.faults["ingest"].calls("GET") == 0


@pytest.mark.parametrize(
    ("extensions", "message"),
    [
        (persisted(QUERY, version=2), "Unsupported persisted query version"),
        ({"persistedQuery": {"version": 1, "sha256Hash": "../etc"}}, "64 hexadecimal digits"),
        ({"persistedQuery": {"version": 1}}, "64 hexadecimal digits"),
        ({"persistedQuery": "yes"}, "Unsupported persisted query version"),
    ],
)
async def test_malformed_handshakes_are_400s(
    gw: Gateway, extensions: dict[str, Any], message: str
) -> None:
    status, body = await post(gw, {"query": QUERY, "extensions": extensions})
    assert status == 400
    assert message in body["errors"][0]["message"]


async def test_a_persisted_document_gets_every_check_a_sent_one_gets(gw: Gateway) -> None:
    """The hash only says where the text comes from: a mutation stays a POST, and the
    limits and validation still run."""
    await post(gw, {"query": MUTATION, "extensions": persisted(MUTATION)})
    gw.store("ingest").jobs["7505e000001NLkPAAW"]["state"] = "Open"
    params = {"extensions": json.dumps(persisted(MUTATION))}
    response = await gw.client.get("/graphql", params=params, headers=CSRF)
    assert response.status_code == 405
    assert gw.store("ingest").jobs["7505e000001NLkPAAW"]["state"] == "Open"
    invalid = "{ job(id: 1) { nope } }"
    _, body = await post(gw, {"query": invalid, "extensions": persisted(invalid)})
    assert "nope" in body["errors"][0]["message"]
    _, body = await post(gw, {"extensions": persisted(invalid)})
    assert "nope" in body["errors"][0]["message"]


async def test_switched_off_it_says_so_and_runs_nothing() -> None:
    async with harness.gateway(server=ServerSettings(persisted_queries=False)) as gw:
        status, body = await post(gw, {"query": QUERY, "extensions": persisted(QUERY)})
        assert status == 200
        assert body["errors"][0] == {
            "message": "PersistedQueryNotSupported",
            "extensions": {"code": "PERSISTED_QUERY_NOT_SUPPORTED"},
        }
        assert gw.faults["ingest"].calls("GET") == 0
        # A request without the extension is unaffected.
        status, body = await post(gw, {"query": QUERY, "variables": {"id": OPEN}})
        assert body == {"data": {"job": {"id": OPEN, "status": "OPEN"}}}


def test_the_store_is_bounded_by_the_bytes_it_holds() -> None:
    from jobgate.web.persisted import MAX_STORED_BYTES, PersistedQueries

    store = PersistedQueries(enabled=True, max_document_bytes=100_000)
    document = "{ __typename }" + " " * 99_000
    for n in range(2 * MAX_STORED_BYTES // len(document)):
        text = document + f"#{n}"
        store.resolve(text, persisted(text))
    assert len(store) * len(document) <= MAX_STORED_BYTES
    huge = "{ __typename }" + " " * 200_000  # over one body: checked, run, not kept
    assert store.resolve(huge, persisted(huge)) == huge
    assert len(store) * len(document) <= MAX_STORED_BYTES
