"""Unexpected failures are masked: INTERNAL and a request id outside, details only in the log."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from jobgate.config import ServerSettings, Settings
from jobgate.simulators.faults import Fault
from jobgate.simulators.suite import build_vendors, suite_app
from jobgate.web.app import create_app
from jobgate.web.endpoint import GraphQLEndpoint
from tests import harness
from tests.harness import Gateway

QUERY = '{ job(id: "ingest:7505e000001NLkPAAW") { id status } }'
SECRET = "secret internal detail 7f3a"


def assert_masked(response: httpx.Response, request_id: str) -> None:
    for leak in (SECRET, "Traceback", 'File "', "RuntimeError"):
        assert leak not in response.text
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    assert request_id in error["message"]
    assert response.headers["x-request-id"] == request_id


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )


async def test_a_resolver_bug_is_masked_and_logged(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(SECRET)

    gw.app.state.gateway.read_jobs = explode
    response = await gw.client.post(
        "/graphql", json={"query": QUERY}, headers={"x-request-id": "req-1"}
    )
    assert response.status_code == 200
    assert_masked(response, "req-1")
    assert SECRET in logged(caplog)


async def test_a_bug_in_the_graphql_handler_is_a_json_500(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError(SECRET)

    monkeypatch.setattr(GraphQLEndpoint, "_check_operation", explode)
    async with _client(_app()) as client:
        response = await client.post(
            "/graphql", json={"query": QUERY}, headers={"x-request-id": "req-2"}
        )
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/json")
    assert_masked(response, "req-2")
    assert SECRET in logged(caplog)


class ExplodingMiddleware:
    """A middleware with a bug, in front of everything of ours."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raise RuntimeError(SECRET)
        await self.app(scope, receive, send)


async def test_a_bug_in_a_middleware_is_a_json_500_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app()
    app.add_middleware(ExplodingMiddleware)
    async with _client(app) as client:
        response = await client.post(
            "/graphql", json={"query": QUERY}, headers={"x-request-id": "req-3"}
        )
        health = await client.get("/healthz")
    assert response.status_code == 500
    assert_masked(response, "req-3")
    assert health.status_code == 500 and SECRET not in health.text
    assert SECRET in logged(caplog)


async def test_upstream_secrets_stay_out_of_answers_and_logs(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gw.faults["ingest"].add(Fault("GET", ".*", "status", status=401, body=b'{"error":"nope"}'))
    gw.faults["hub"].add(Fault("GET", ".*", "refuse"))
    texts = []
    for query in (QUERY, '{ job(id: "hub:6160") { id } }', "{ sources { name } }"):
        texts.append((await gw.client.post("/graphql", json={"query": query})).text)
    secrets = [s for source in gw.app.state.settings.sources.values() for s in source.secrets()]
    assert secrets
    for secret in secrets:
        assert all(secret not in text for text in texts)
        assert secret not in logged(caplog)


def _app() -> Starlette:
    vendors = build_vendors()
    simulators = suite_app(vendors)
    sources = {v.source: v.source_settings(harness.ORIGIN) for v in vendors}
    return create_app(
        Settings(server=ServerSettings(), sources=sources),
        transport_factory=lambda source: httpx.ASGITransport(app=simulators),
    )


@contextlib.asynccontextmanager
async def _client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan run, and a client that sees its 500s as answers."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client
