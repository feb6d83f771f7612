"""BigChange OAuth: one shared token, refresh on 401, headers on every call, secrets kept out."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import pytest

from jobgate.domain import ActionRequest, ErrorCode, Job, JobAction, JobError, JobUpdate
from jobgate.domain.bigchange import BIGCHANGE
from jobgate.simulators import bigchange
from jobgate.simulators.faults import Fault
from jobgate.upstream.credentials import RenewingToken, renew_margin
from jobgate.upstream.grants import TokenEndpoint, client_credentials
from tests.adapters.test_bigchange import JOB, Recorder
from tests.harness import ORIGIN, adapter, vendor

TOKEN = r".*/auth/tokens"
SECRET = bigchange.DEMO_CLIENT_SECRET
READER = {"client_id": bigchange.READER_CLIENT_ID, "client_secret": bigchange.READER_CLIENT_SECRET}
UPDATE = ActionRequest(JobAction.UPDATE, update=JobUpdate(changes={"reference": "R-2"}))


async def test_one_token_for_many_concurrent_and_sequential_calls() -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim) as (provider, faults):
        reads = await asyncio.gather(*(provider.read_jobs([str(i)]) for i in range(1001, 1014)))
        assert all(isinstance(job, Job) for [job] in reads)
        for _ in range(3):
            await provider.read_jobs(["1009"])
        [updated] = await provider.perform(UPDATE, ["1001"])
        assert isinstance(updated, Job)
        assert faults.calls("POST", TOKEN) == 1


async def test_expired_token_is_refreshed_once_and_the_call_succeeds() -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim) as (provider, faults):
        await provider.read_jobs(["1001"])
        sim.store.expire_tokens()
        results = await asyncio.gather(*(provider.read_jobs([str(i)]) for i in range(1001, 1011)))
        assert all(isinstance(job, Job) for [job] in results)
        assert faults.calls("POST", TOKEN) == 2


async def test_401_on_a_write_refreshes_and_resends_once() -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim) as (provider, faults):
        # The upstream refuses the PATCH unprocessed (401): resending it is safe.
        faults.add(Fault("PATCH", JOB, "status", status=401))
        [outcome] = await provider.perform(UPDATE, ["1001"])
        assert isinstance(outcome, Job) and sim.store.jobs[1001]["reference"] == "R-2"
        assert faults.calls("PATCH") == 1
        assert faults.calls("POST", TOKEN) == 2


async def test_a_second_401_is_unauthenticated_without_looping() -> None:
    sim = vendor(BIGCHANGE)
    body = b'{"title":"Unauthorized","status":401,"detail":"Token revoked."}'
    async with adapter(sim) as (provider, faults):
        faults.add(Fault("GET", JOB, "status", status=401, body=body, times=2))
        [error] = await provider.read_jobs(["1001"])
    assert isinstance(error, JobError) and error.code is ErrorCode.UNAUTHENTICATED
    assert error.message == "Token revoked."
    assert faults.calls("POST", TOKEN) == 2


async def test_token_is_renewed_shortly_before_it_expires() -> None:
    sim = vendor(BIGCHANGE)
    sim.store.token_lifetime = 100
    now = [0.0]
    endpoint = TokenEndpoint(
        "field",
        f"{ORIGIN}/auth/tokens",
        httpx.ASGITransport(app=sim.app),
        timeout=5,
    )
    grant = client_credentials(endpoint, bigchange.DEMO_CLIENT_ID, SECRET, clock=lambda: now[0])
    credentials = RenewingToken("field", grant, clock=lambda: now[0])
    first = await credentials.token()
    now[0] = 89.0  # 100 s life, 10 s margin
    assert await credentials.token() == first
    assert len(sim.store.tokens) == 1
    now[0] = 90.0  # in the margin: still good, and a renewal starts in the background
    assert await credentials.token() == first
    await asyncio.sleep(0.05)
    second = await credentials.token()
    assert second != first
    assert len(sim.store.tokens) == 2
    now[0] = 250.0  # past the second's expiry too: the caller waits for a new one
    third = await credentials.token()
    assert third not in (first, second) and credentials.renewals == 3


def test_renew_margin() -> None:
    assert renew_margin(3600) == 60
    assert renew_margin(100) == 10


async def test_bearer_and_customer_id_on_every_call() -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim) as (provider, faults):
        recorder = faults.inner = Recorder(faults.inner)
        await provider.read_jobs(["1009", "1010"])
        await provider.perform(UPDATE, ["1002"])
    [token_request] = [r for r in recorder.requests if r.url.path.endswith("/auth/tokens")]
    assert "authorization" not in token_request.headers
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "client_id": [bigchange.DEMO_CLIENT_ID],
        "client_secret": [SECRET],
    }
    calls = [r for r in recorder.requests if "/v1/" in r.url.path]
    assert {(r.method, r.url.path.split("/v1/")[1]) for r in calls} >= {
        ("GET", "jobs/1009"),
        ("GET", "jobTypes/5"),
        ("GET", "jobTypes/7"),
        ("PATCH", "jobs/1002"),
    }
    for request in calls:
        assert request.headers["customer-id"] == bigchange.DEMO_CUSTOMER_ID
        assert request.headers["authorization"].startswith("Bearer bc_")


async def test_wrong_secret_is_unauthenticated_and_nothing_is_written() -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim, client_secret="not-the-secret-at-all") as (provider, faults):
        [read] = await provider.read_jobs(["1001"])
        [write] = await provider.perform(UPDATE, ["1001"])
    for error in (read, write):
        assert isinstance(error, JobError) and error.code is ErrorCode.UNAUTHENTICATED
        assert error.message == "Client authentication failed."
        assert error.upstream_code == "invalid_client"
        assert "not-the-secret-at-all" not in f"{error.message} {error.detail}"
    assert faults.calls("PATCH") == 0


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("POST", TOKEN, "status", status=500, body=b"oops"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("POST", TOKEN, "garbage"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("POST", TOKEN, "garbage", body=b'{"token":"x"}'), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("POST", TOKEN, "refuse"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("POST", TOKEN, "delay", delay=5), ErrorCode.UPSTREAM_TIMEOUT),
        (Fault("POST", TOKEN, "status", status=400, body=b'{"error":"invalid_client"}'),
         ErrorCode.UNAUTHENTICATED),
    ],
)  # fmt: skip
async def test_token_endpoint_failures(fault: Fault, code: ErrorCode) -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim, timeout=0.2) as (provider, faults):
        faults.add(fault)
        [error] = await provider.read_jobs(["1001"])
        assert isinstance(error, JobError) and error.code is code
        assert faults.calls("GET") == 0
        [job] = await provider.read_jobs(["1001"])
        assert isinstance(job, Job)


async def test_token_failure_on_a_write_is_not_an_uncertain_write() -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim) as (provider, faults):
        await provider.read_jobs(["1001"])  # caches a token before the faults bite
        # The PATCH is refused unprocessed (401) and no new token can be had.
        faults.add(Fault("PATCH", JOB, "status", status=401))
        faults.add(Fault("POST", TOKEN, "status", status=503, times=-1))
        [outcome] = await provider.perform(UPDATE, ["1001"])
        assert faults.calls("GET", JOB) == 2  # read, pre-check; no read-back of a lost write
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert sim.store.jobs[1001]["reference"] == "JOB-1001"


@pytest.mark.parametrize(
    ("overrides", "request_", "words"),
    [
        (
            READER,
            UPDATE,
            "The access token lacks the scope jobs:write.",
        ),
        ({"customer_id": "999"}, None, "You do not have access to customer 999."),
    ],
)  # fmt: skip
async def test_forbidden_keeps_upstream_words(
    overrides: dict[str, str], request_: ActionRequest | None, words: str
) -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim, **overrides) as (provider, _):
        if request_ is None:
            [error] = await provider.read_jobs(["1001"])
        else:
            [error] = await provider.perform(request_, ["1001"])
    assert isinstance(error, JobError) and error.code is ErrorCode.FORBIDDEN
    assert error.message == words
