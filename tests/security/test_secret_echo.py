"""Upstreams quote what they were sent. One that echoes every credential it knows (client
secrets, the user's password, the token it was given) into every field of its own error shape
- and a token endpoint that does the same - must put none of them in an answer or a log line.
Served on a real socket; each vendor answers in its documented error format."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from jobgate.config import ServerSettings, Settings
from jobgate.providers.base import HttpProvider
from jobgate.redaction import MASK
from jobgate.simulators.faults import Fault, FaultyTransport
from jobgate.simulators.suite import build_vendors
from jobgate.web.app import probe_sources
from tests import harness
from tests.operability.test_logs import captured_logs
from tests.wire import served

Shape = Callable[[str], bytes]


def salesforce(secret: str) -> bytes:
    return orjson.dumps([{"errorCode": secret, "message": secret}])


def problem(secret: str) -> bytes:  # BigChange: RFC 7807 with field errors
    body = {"type": secret, "title": secret, "status": 422, "detail": secret,
            "errors": {secret: [secret]}}  # fmt: skip
    return orjson.dumps(body)


def arcgis(secret: str) -> bytes:
    return orjson.dumps({"error": {"code": secret, "type": secret, "message": secret,
                                   "details": [secret, {"message": secret}]}})  # fmt: skip


def content_hub(secret: str) -> bytes:
    return orjson.dumps({"Message": secret})


def oauth(secret: str) -> bytes:
    return orjson.dumps({"error": secret, "error_description": secret})


SHAPES: dict[str, tuple[Shape, str]] = {
    "ingest": (salesforce, r".*/api/v1/ingest/jobs/[^/]+"),
    "field": (problem, r".*/v1/jobs/\d+"),
    "gis": (arcgis, r".*/jobs/[^/]+"),
    "hub": (content_hub, r".*/api/fetchjobs/\d+"),
}
JOBS = {
    "ingest": "ingest:7505e000001NLkPAAW",
    "field": "field:1002",
    "gis": "gis:j1Xo9",
    "hub": "hub:6161",
}
UPDATES = {
    "ingest": 'closeJob(id: "ingest:7505e000001NLkPAAW")',
    "field": 'updateJob(id: "field:1002", input: {reference: "R"})',
    "gis": 'manageJobs(action: CLOSE, ids: ["gis:j1Xo9"]) { results { error { ...E } } }',
    "hub": 'cancelJob(id: "hub:6161")',
}
ERROR = "fragment E on JobError { code message upstreamCode detail fieldErrors { field messages } }"


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[str, dict[str, FaultyTransport], Any]]:
    vendors = build_vendors()
    settings = Settings(server=ServerSettings(probe_sources=False), sources={})
    app, faults = harness.app_over_faults(vendors, settings)
    async with served(app) as base:
        yield base, faults, app


async def test_no_credential_reaches_an_answer_or_a_log_line(
    gateway: tuple[str, dict[str, FaultyTransport], Any],
) -> None:
    import httpx

    base, faults, app = gateway
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def ask(query: str) -> bytes:
            response = await client.post("/graphql", json={"query": query})
            assert response.status_code == 200, response.text
            return response.content

        # Every source obtains its token, so that the tokens are among what is echoed.
        warm = await ask("{ " + " ".join(
            f'{n}: job(id: "{j}") {{ id }}' for n, j in JOBS.items()) + " }")  # fmt: skip
        assert b'"errors"' not in warm, warm
        providers = app.state.gateway.providers
        secrets = {
            s
            for name, provider in providers.items()
            for s in (*app.state.settings.sources[name].secrets(), *_held(provider))
        }
        assert len(secrets) >= 8
        echo = " ".join(sorted(secrets))
        answers: list[bytes] = []
        with captured_logs() as out:
            for name, (shape, path) in SHAPES.items():
                body = shape(echo)
                faults[name].add(Fault("GET", path, "status", status=500, body=body, times=-1))
                answers.append(await ask(f'{{ job(id: "{JOBS[name]}") {{ id }} }}'))
                faults[name].faults.clear()
                selection = "" if name == "gis" else " { error { ...E } }"
                faults[name].add(Fault("*", path, "status", status=422, body=body, times=-1))
                answers.append(await ask(f"mutation {{ {UPDATES[name]}{selection} }} {ERROR}"))
                faults[name].faults.clear()
                # A token endpoint that refuses, quoting everything (and ArcGIS's error object).
                provider = providers[name]
                provider.http.credentials._token = None  # the next call needs a new token
                token_body = arcgis(echo) if name == "gis" else oauth(echo)
                faults[name].add(Fault("POST", r".*token.*", "status", status=401,
                                       body=token_body, times=-1))  # fmt: skip
                answers.append(await ask(f'{{ job(id: "{JOBS[name]}") {{ id }} }}'))
                faults[name].faults.clear()
            # The start-up probe logs why a source is not usable, in the upstream's words.
            for name, (shape, _) in SHAPES.items():
                faults[name].add(Fault("*", ".*", "status", status=500, body=shape(echo), times=-1))
            await probe_sources(providers)
    logged = out.getvalue()
    assert logged.count('"source not usable"') == 4
    text = b"\n".join(answers).decode() + logged
    for secret in secrets:
        assert secret not in text, f"a credential left the gateway: {secret[:4]}..."
    assert MASK in text, "the upstream's words are kept, the credentials masked"
    assert text.count('"UNAUTHENTICATED"') >= 4


def _held(provider: Any) -> tuple[str, ...]:
    assert isinstance(provider, HttpProvider) and provider.http.credentials is not None
    return tuple(provider.http.credentials.secrets())
