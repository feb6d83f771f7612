"""Fuzzing the schema (hypothesis-graphql) against the demo app in-process.

Valid operations (with ids of real demo jobs among the junk) and operations with one schema
violation: no answer is a 5xx, and every error is a contract code, a validation message, or a
properly masked INTERNAL.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

import graphql
from jobgate.domain.errors import ErrorCode
from jobgate.graphql.errors import INVALID_CURSOR
from jobgate.graphql.schema import build_schema
from jobgate.web.app import demo_app

CONTRACT_CODES = {code.value for code in ErrorCode} | {INVALID_CURSOR}
MASKED = re.compile(r"Internal error \(request id [0-9a-f]{32}\)\.")
DEMO_IDS = [
    "ingest:7505e000001NLkPAAW",
    "ingest:7505e000001NLkVAAW",
    "hub:6160",
    "hub:6161",
    "field:1001",
    "field:1002",
    "gis:j1Xo9",
    "gis:j2Pq4",
]
IDS = st.one_of(st.sampled_from(DEMO_IDS), st.text(max_size=30)).map(
    lambda value: graphql.StringValueNode(value=value)
)
SDL = build_schema().as_str()


class Client:
    """The demo app, lifespan running, on an event loop of its own: hypothesis tests are sync."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = demo_app()
        self.lifespan = self.app.router.lifespan_context(self.app)
        self.loop.run_until_complete(self.lifespan.__aenter__())
        # raise_app_exceptions: an exception that escapes the app fails the test.
        transport = httpx.ASGITransport(app=self.app)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")

    def post(self, query: str) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post("/graphql", json={"query": query}))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self.lifespan.__aexit__(None, None, None))
        self.loop.close()


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    running = Client()
    try:
        yield running
    finally:
        running.close()


def check(client: Client, query: str) -> None:
    response = client.post(query)
    assert response.status_code < 500, response.text[:500]
    assert "Traceback" not in response.text
    body: dict[str, Any] = response.json()
    for error in body.get("errors", ()):
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL":
            assert MASKED.fullmatch(error["message"]), error
            assert set(error["extensions"]) == {"code", "requestId"}
        elif code is not None:
            assert code in CONTRACT_CODES, error
        else:  # a syntax, validation or variables message: about the document, not the server
            assert "path" not in error, error
            assert "Exception" not in error["message"], error


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=from_schema(SDL, custom_scalars={"ID": IDS}))
def test_valid_operations(client: Client, query: str) -> None:
    check(client, query)


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=from_schema(SDL, mode=Mode.NEGATIVE))
def test_invalid_operations(client: Client, query: str) -> None:
    check(client, query)
