"""Reading jobs through the GraphQL app: order, nulls, errors, batching, upstream faults."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from jobgate.config import ServerSettings
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.simulators.faults import Fault
from tests import harness
from tests.harness import Gateway

OPEN = "ingest:7505e000001NLkPAAW"
ABORTED = "ingest:7505e000001NLkVAAW"
MISSING = "ingest:7505e000009ZZZZAAW"
JOB_PATH = r".*/api/v1/ingest/jobs/[^/]+"

JOBS = """query($ids: [ID!]!) { jobs(ids: $ids) {
  id source provider nativeId status providerStatus allowedActions
  details { __typename ... on DataCloudJobDetails { object operation sourceName } } } }"""


async def test_job_reads_every_field(gw: Gateway) -> None:
    body = await gw.gql(
        """query($id: ID!) { job(id: $id) {
          id source provider nativeId status providerStatus allowedActions
          details { ... on DataCloudJobDetails { object operation contentType } } } }""",
        {"id": OPEN},
    )
    assert "errors" not in body
    assert body["data"]["job"] == {
        "id": OPEN,
        "source": "ingest",
        "provider": "DATA_CLOUD",
        "nativeId": "7505e000001NLkPAAW",
        "status": "OPEN",
        "providerStatus": "Open",
        "allowedActions": ["ABORT", "CLOSE"],
        "details": {"object": "Contact", "operation": "upsert", "contentType": "CSV"},
    }


async def test_missing_job_is_null_without_error(gw: Gateway) -> None:
    body = await gw.gql("query($id: ID!) { job(id: $id) { id } }", {"id": MISSING})
    assert body == {"data": {"job": None}}


@pytest.mark.parametrize("bad", ["nocolon", "unknown:1", "ingest:../x", "ingest:"])
async def test_invalid_id_is_a_located_error(gw: Gateway, bad: str) -> None:
    body = await gw.gql("query($id: ID!) { job(id: $id) { id } }", {"id": bad})
    assert body["data"] == {"job": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_ID"
    assert error["path"] == ["job"]
    assert gw.faults["ingest"].calls("GET") == 0


async def test_batch_keeps_order_nulls_and_errors(gw: Gateway) -> None:
    ids = [ABORTED, MISSING, "bad", OPEN, ABORTED, "zzz:1"]
    body = await gw.gql(JOBS, {"ids": ids})
    jobs = body["data"]["jobs"]
    assert [j and j["id"] for j in jobs] == [ABORTED, None, None, OPEN, ABORTED, None]
    assert jobs[0]["status"] == "ABORTED" and jobs[0]["allowedActions"] == []
    assert sorted((e["path"], e["extensions"]["code"]) for e in body["errors"]) == [
        (["jobs", 2], "INVALID_ID"),
        (["jobs", 5], "INVALID_ID"),
    ]


async def test_one_upstream_read_per_distinct_id(gw: Gateway) -> None:
    query = f"""{{ a: job(id: "{OPEN}") {{ id }} b: job(id: "{OPEN}") {{ status }}
      c: jobs(ids: ["{OPEN}", "{ABORTED}", "{OPEN}"]) {{ id }} }}"""
    body = await gw.gql(query)
    assert "errors" not in body
    assert gw.faults["ingest"].calls("GET", JOB_PATH) == 2


async def test_reads_to_one_source_run_concurrently_under_a_limit() -> None:
    sim = harness.vendor(DATA_CLOUD, seeded=False)
    ids = [f"ingest:{sim.store.add('Open')['id']}" for _ in range(6)]
    async with harness.gateway([sim], max_concurrency=2) as gw:
        in_flight = peak = 0
        inner = gw.faults["ingest"].inner

        class Counting(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                nonlocal in_flight, peak
                in_flight += 1
                peak = max(peak, in_flight)
                await asyncio.sleep(0.05)
                try:
                    return await inner.handle_async_request(request)
                finally:
                    in_flight -= 1

        gw.faults["ingest"].inner = Counting()
        body = await gw.gql(JOBS, {"ids": ids})
    assert all(j is not None for j in body["data"]["jobs"])
    assert peak == 2


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("GET", JOB_PATH, "status", status=500, body=b"boom"), "UPSTREAM_UNAVAILABLE"),
        (Fault("GET", JOB_PATH, "refuse"), "UPSTREAM_UNAVAILABLE"),
        (Fault("GET", JOB_PATH, "delay", delay=10), "UPSTREAM_TIMEOUT"),
        (Fault("GET", JOB_PATH, "garbage"), "UPSTREAM_UNAVAILABLE"),
    ],
)
async def test_upstream_faults_give_the_right_code_in_time(fault: Fault, code: str) -> None:
    async with harness.gateway(timeout=0.3, retries=0) as gw:
        gw.faults["ingest"].add(fault)
        started = time.monotonic()
        body = await gw.gql("query($id: ID!) { job(id: $id) { id } }", {"id": OPEN})
        assert time.monotonic() - started < 2
        assert body["data"] == {"job": None}
        assert body["errors"][0]["extensions"]["code"] == code
        # The gateway answers the next request normally.
        again = await gw.gql("query($id: ID!) { job(id: $id) { id } }", {"id": OPEN})
        assert again == {"data": {"job": {"id": OPEN}}}


async def test_overall_deadline_bounds_a_request() -> None:
    server = ServerSettings(request_timeout=0.3)
    async with harness.gateway(server=server, timeout=5) as gw:
        gw.faults["ingest"].add(Fault("GET", JOB_PATH, "delay", delay=10))
        started = time.monotonic()
        body = await gw.gql("query($id: ID!) { job(id: $id) { id } }", {"id": OPEN})
    assert time.monotonic() - started < 2
    assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_TIMEOUT"


async def test_too_many_ids_is_refused(gw: Gateway) -> None:
    body = await gw.gql(JOBS, {"ids": [OPEN] * 101})
    assert body["data"] is None or body["data"]["jobs"] is None
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert gw.faults["ingest"].calls("GET") == 0


async def test_sources_lists_configured_sources(gw: Gateway) -> None:
    await gw.app.state.gateway.providers["ingest"].probe()  # a source is healthy once reached
    body = await gw.gql("{ sources { name provider healthy supportedActions } }")
    ingest = next(s for s in body["data"]["sources"] if s["name"] == "ingest")
    assert ingest == {
        "name": "ingest",
        "provider": "DATA_CLOUD",
        "healthy": True,
        "supportedActions": ["ABORT", "CLOSE"],
    }
