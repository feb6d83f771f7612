"""An Idempotency-Key answer is replayed only to a caller who may have made the request: the
replaying request is authorised first, exactly like a fresh one, and keys belong to an identity
no two callers share (over a real socket, as an attacker would send them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from jobgate.config import ServerSettings, Settings
from jobgate.config.auth import AuthSettings
from jobgate.simulators.demo import demo_transport_factory
from jobgate.simulators.suite import build_vendors
from jobgate.web.app import create_app
from tests import harness
from tests.security.support import OPEN_INGEST, bearer, hs256, hs_token
from tests.wire import served

CLOSE = "mutation($id: ID!) { closeJob(id: $id) { job { id status } error { code } } }"


@pytest.fixture
async def base() -> AsyncIterator[str]:
    vendors = build_vendors()
    sources = {v.source: v.source_settings(harness.ORIGIN) for v in vendors}
    settings = Settings(
        server=ServerSettings(probe_sources=False),
        sources=sources,
        auth=AuthSettings(jwt=hs256()),
    )
    app = create_app(settings, transport_factory=demo_transport_factory(vendors))
    async with served(app) as url:
        yield url


async def close(client: httpx.AsyncClient, token: str, key: str, **headers: str) -> httpx.Response:
    sent: dict[str, Any] = {**bearer(token), "Idempotency-Key": key, **headers}
    body = {"query": CLOSE, "variables": {"id": OPEN_INGEST}}
    return await client.post("/graphql", json=body, headers=sent)


async def test_a_read_only_token_of_the_same_subject_gets_403_not_the_stored_answer(
    base: str,
) -> None:
    writer = hs_token(sub="svc-7", scope="jobs:read jobs:write", jobgate_sources=["ingest"])
    reader = hs_token(sub="svc-7", scope="jobs:read", jobgate_sources=["gis"])
    async with httpx.AsyncClient(base_url=base) as client:
        first = await close(client, writer, "close-1")
        assert first.json()["data"]["closeJob"]["job"]["status"] == "QUEUED"
        replay = await close(client, reader, "close-1")
        fresh = await close(client, reader, "close-2")
    assert replay.status_code == 403, replay.text
    assert "idempotent-replayed" not in replay.headers
    assert "ingest" not in replay.text
    assert (replay.status_code, replay.json()) == (fresh.status_code, fresh.json())


async def test_same_subject_other_sources_runs_as_its_own_request(base: str) -> None:
    ingest = hs_token(sub="svc-7", jobgate_sources=["ingest"])
    gis = hs_token(sub="svc-7", jobgate_sources=["gis"])
    async with httpx.AsyncClient(base_url=base) as client:
        first = await close(client, ingest, "close-3")
        other = await close(client, gis, "close-3")
    assert first.json()["data"]["closeJob"]["job"]["status"] == "QUEUED"
    assert "idempotent-replayed" not in other.headers
    # As a fresh request: the ingest job is not this caller's.
    assert other.json()["data"]["closeJob"] == {"job": None, "error": {"code": "FORBIDDEN"}}


async def test_tokens_without_a_subject_share_no_keys(base: str) -> None:
    one = hs_token(sub=None, jobgate_sources=["ingest"])
    another = hs_token(sub=None, jobgate_sources=["ingest"], iat=1)  # another token
    async with httpx.AsyncClient(base_url=base) as client:
        first = await close(client, one, "close-4")
        again = await close(client, one, "close-4")
        other = await close(client, another, "close-4")
    assert again.headers["idempotent-replayed"] == "true" and again.content == first.content
    assert "idempotent-replayed" not in other.headers
    assert other.json()["data"]["closeJob"]["error"]["code"] == "INVALID_STATE"  # ran: closed


async def test_a_replay_passes_csrf_prevention_like_a_fresh_request(base: str) -> None:
    token = hs_token()
    async with httpx.AsyncClient(base_url=base) as client:
        await close(client, token, "close-5")
        body = {"query": CLOSE, "variables": {"id": OPEN_INGEST}}
        # A browser's simple POST (no preflight) with a key: refused before any replay.
        sneaky = await client.post(
            "/graphql",
            content=httpx.Request("POST", base, json=body).content,
            headers={"Content-Type": "text/plain", "Idempotency-Key": "close-5"},
        )
    assert sneaky.status_code in (400, 401, 415)
    assert "idempotent-replayed" not in sneaky.headers
