"""The BigChange simulator's own answers, and the job-type loader's caching."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from jobgate.domain import ErrorCode, JobError
from jobgate.domain.bigchange import BigChangeJobType
from jobgate.providers.bigchange_types import Found, JobTypeLoader
from jobgate.simulators import bigchange
from jobgate.simulators.bigchange import SCENARIOS, STATUSES, BigChangeStore, create_in


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, BigChangeStore]]:
    store = BigChangeStore()
    bigchange.seed(store)
    transport = httpx.ASGITransport(app=bigchange.create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://bc.test") as http:
        answer = await http.post(
            "/auth/tokens",
            data={
                "grant_type": "client_credentials",
                "client_id": bigchange.DEMO_CLIENT_ID,
                "client_secret": bigchange.DEMO_CLIENT_SECRET,
            },
        )
        assert answer.status_code == 200
        assert answer.json()["token_type"] == "Bearer" and answer.json()["expires_in"] == 3600
        http.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        http.headers["Customer-Id"] = bigchange.DEMO_CUSTOMER_ID
        yield http, store


async def test_seed_covers_every_status_and_the_hook_makes_each() -> None:
    store = BigChangeStore()
    bigchange.seed(store)
    assert {j["status"] for j in store.jobs.values()} == set(STATUSES)
    assert set(SCENARIOS) == {*STATUSES, "lateStart", "lateFinish", "rescheduled"}
    assert store.jobs[1009] == {
        "id": 1009,
        "typeId": 5,
        "contactId": 77,
        "status": "started",
        "plannedDuration": 60,
        "description": "Annual boiler service",
        "reference": "JOB-1",
        "contactPersonId": store.contacts[77],
        "orderNumber": None,
        "customFields": [{"id": 9, "value": "blue"}],
        "result": None,
    }
    for scenario in SCENARIOS:
        assert store.jobs[int(create_in(store, scenario))]["status"] == scenario


async def test_list_pages(client: tuple[httpx.AsyncClient, BigChangeStore]) -> None:
    http, store = client
    page = (await http.get("/v1/jobs", params={"pageNumber": 2, "pageSize": 5})).json()
    assert [j["id"] for j in page["items"]] == [1006, 1007, 1008, 1009, 1010]
    assert page["totalCount"] == len(store.jobs)
    for size in ("0", "1001", "x"):
        answer = await http.get("/v1/jobs", params={"pageSize": size})
        assert answer.status_code == 400


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Customer-Id": ""}, 400),
        ({"Customer-Id": "999"}, 403),
        ({"Authorization": "Bearer x"}, 401),
    ],
)
async def test_every_call_needs_token_and_customer(
    client: tuple[httpx.AsyncClient, BigChangeStore], headers: dict[str, str], status: int
) -> None:
    http, _ = client
    answer = await http.get("/v1/jobs/1001", headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["instance"] == "/v1/jobs/1001"


async def test_wrong_client_and_grant(client: tuple[httpx.AsyncClient, BigChangeStore]) -> None:
    http, _ = client
    wrong = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    answer = await http.post("/auth/tokens", data=wrong)
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")
    answer = await http.post("/auth/tokens", data={**wrong, "grant_type": "password"})
    assert (answer.status_code, answer.json()["error"]) == (400, "unsupported_grant_type")


async def test_start_then_result(client: tuple[httpx.AsyncClient, BigChangeStore]) -> None:
    http, store = client
    assert (await http.put("/v1/jobs/1006/start")).status_code == 204
    assert store.jobs[1006]["status"] == "started"
    assert (await http.put("/v1/jobs/1001/start")).status_code == 422  # new: not planned yet
    refused = await http.put(
        "/v1/jobs/1006/result", json={"status": "completedOk", "result": "fixed"}
    )
    assert refused.status_code == 422 and refused.json()["errors"]["result"] == [
        "Must be one of: Fixed"
    ]
    done = await http.put("/v1/jobs/1006/result", json={"status": "completedOk", "result": "Fixed"})
    assert done.status_code == 204 and store.jobs[1006]["status"] == "completedOk"
    again = await http.put(
        "/v1/jobs/1006/result", json={"status": "completedOk", "result": "Fixed"}
    )
    assert again.status_code == 422


async def test_patch_rules(client: tuple[httpx.AsyncClient, BigChangeStore]) -> None:
    http, store = client
    locked = await http.patch("/v1/jobs/1009", json={"description": "x", "reference": "R"})
    assert locked.status_code == 422
    assert locked.json()["errors"] == {
        "description": ["Cannot be updated once the job has started"]
    }
    assert store.jobs[1009]["reference"] == "JOB-1"  # all or nothing
    same = await http.patch("/v1/jobs/1009", json={"description": "Annual boiler service"})
    assert same.status_code == 204
    unknown = await http.patch("/v1/jobs/1001", json={"customFields": [{"id": 99, "value": "a"}]})
    assert unknown.json()["errors"] == {"customFields": ["Unknown custom field 99."]}
    assert (await http.patch("/v1/jobs/1013", json={"reference": "R"})).status_code == 422
    assert (await http.patch("/v1/jobs/424242", json={})).status_code == 404


# --- the job-type loader ------------------------------------------------------------------------

BOILER = BigChangeJobType(5, "Boiler service", ("Fixed",), ())


class Upstream:
    def __init__(self, *answers: Found) -> None:
        self.answers = list(answers)
        self.calls: list[int] = []

    async def fetch(self, type_id: int) -> Found:
        self.calls.append(type_id)
        await asyncio.sleep(0.01)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_loader_shares_in_flight_requests_and_expires() -> None:
    upstream = Upstream(BOILER)
    now = [0.0]
    loader = JobTypeLoader(upstream.fetch, ttl=60, clock=lambda: now[0])
    assert await asyncio.gather(*(loader.load(5) for _ in range(5))) == [BOILER] * 5
    assert upstream.calls == [5]
    now[0] = 59.9
    await loader.load(5)
    assert upstream.calls == [5]
    now[0] = 60.0
    await loader.load(5)
    assert upstream.calls == [5, 5]


async def test_loader_does_not_keep_failures() -> None:
    failure = JobError(ErrorCode.UPSTREAM_UNAVAILABLE, "boom")
    upstream = Upstream(failure, None, BOILER)
    loader = JobTypeLoader(upstream.fetch)
    assert await loader.load(5) == failure
    assert await loader.load(5) is None
    assert await loader.load(5) == BOILER
    assert await loader.load(5) == BOILER
    assert upstream.calls == [5, 5, 5]


async def test_one_caller_giving_up_does_not_cancel_the_others() -> None:
    upstream = Upstream(BOILER)
    loader = JobTypeLoader(upstream.fetch)
    impatient = asyncio.create_task(loader.load(5))
    patient = asyncio.create_task(loader.load(5))
    await asyncio.sleep(0)
    impatient.cancel()
    assert await patient == BOILER
    assert upstream.calls == [5]
