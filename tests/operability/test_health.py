"""The circuit breaker as operators and clients see it: `sources`, `/readyz`, fast failures."""

from __future__ import annotations

import time

from jobgate.config import ServerSettings
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.simulators.faults import Fault
from tests import harness

OPEN_JOB = "ingest:7505e000001NLkPAAW"
JOB_PATH = r".*/api/v1/ingest/jobs/[^/]+"
JOB = "query($id: ID!) { job(id: $id) { id } }"
SOURCES = "{ sources { name healthy circuit retryInSeconds } }"


async def test_an_open_circuit_fails_fast_shows_in_sources_and_readyz_then_recovers() -> None:
    sim = harness.vendor(DATA_CLOUD)
    async with harness.gateway([sim], breaker_failures=3, breaker_cooldown=30, probe=True) as gw:
        ready = await gw.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["sources"] == [
            {
                "name": "ingest",
                "provider": "data-cloud",
                "reached": True,
                "circuit": "closed",
                "retryInSeconds": 0,
            }
        ]
        faults = gw.faults["ingest"]
        faults.add(Fault("GET", JOB_PATH, "status", status=500, times=-1))
        for _ in range(3):
            body = await gw.gql(JOB, {"id": OPEN_JOB})
            assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert faults.calls("GET", JOB_PATH) == 0 and faults.faults[0].times == -1

        started = time.monotonic()
        body = await gw.gql(JOB, {"id": OPEN_JOB})
        assert time.monotonic() - started < 2
        [error] = body["errors"]
        assert error["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert "circuit open, retrying in" in error["message"]

        [source] = (await gw.gql(SOURCES))["data"]["sources"]
        assert source["healthy"] is False and source["circuit"] == "open"
        assert 0 < source["retryInSeconds"] <= 30
        not_ready = await gw.client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["open"] == ["ingest"]

        faults.clear()
        # Past the cool-down (moved by hand, not waited for): the next call is the probe.
        [breaker] = gw.app.state.breakers["ingest"]
        breaker.clock = lambda: time.monotonic() + 30
        assert (await gw.client.get("/readyz")).status_code == 200
        [source] = (await gw.gql(SOURCES))["data"]["sources"]
        assert source["healthy"] is True and source["circuit"] == "half-open"
        assert await gw.gql(JOB, {"id": OPEN_JOB}) == {"data": {"job": {"id": OPEN_JOB}}}
        [source] = (await gw.gql(SOURCES))["data"]["sources"]
        assert source["circuit"] == "closed"


async def test_one_failing_source_leaves_the_others_ready() -> None:
    async with harness.gateway(breaker_failures=1, probe=True) as gw:
        gw.faults["ingest"].add(Fault("GET", JOB_PATH, "refuse", times=-1))
        await gw.gql(JOB, {"id": OPEN_JOB})
        not_ready = await gw.client.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["open"] == ["ingest"]
        healthy = {s["name"]: s["healthy"] for s in (await gw.gql(SOURCES))["data"]["sources"]}
        assert healthy.pop("ingest") is False
        assert healthy and all(healthy.values())


async def test_a_source_nothing_has_reached_is_not_healthy_nor_ready() -> None:
    async with harness.gateway() as gw:  # no start-up probe: nothing has called the sources
        not_ready = await gw.client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["open"] == []
        assert sorted(not_ready.json()["unreached"]) == ["field", "gis", "hub", "ingest"]
        [ingest] = [s for s in (await gw.gql(SOURCES))["data"]["sources"] if s["name"] == "ingest"]
        assert ingest["healthy"] is False and ingest["circuit"] == "closed"
        await gw.gql(JOB, {"id": OPEN_JOB})  # one call succeeds
        [ingest] = [s for s in (await gw.gql(SOURCES))["data"]["sources"] if s["name"] == "ingest"]
        assert ingest["healthy"] is True
        assert (await gw.client.get("/readyz")).json()["unreached"] == ["hub", "field", "gis"]


async def test_the_start_up_probe_finds_a_source_that_refuses_its_credentials() -> None:
    sim = harness.vendor(DATA_CLOUD)
    async with harness.gateway([sim], probe=True, token="not-the-right-token") as gw:
        not_ready = await gw.client.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json()["unreached"] == ["ingest"]
    async with harness.gateway([sim], probe=True) as gw:
        assert (await gw.client.get("/readyz")).status_code == 200
        assert gw.faults["ingest"].calls("GET") == 1, "the probe is one read"


async def test_healthz_is_alive_whatever_the_upstreams_do() -> None:
    async with harness.gateway(breaker_failures=1) as gw:
        gw.faults["ingest"].add(Fault("GET", JOB_PATH, "refuse", times=-1))
        await gw.gql(JOB, {"id": OPEN_JOB})
        assert (await gw.client.get("/healthz")).json() == {"status": "ok"}


async def test_a_retry_after_longer_than_the_deadline_is_answered_at_once() -> None:
    server = ServerSettings(request_timeout=1.0)
    async with harness.gateway(server=server) as gw:
        faults = gw.faults["ingest"]
        busy = Fault("GET", JOB_PATH, "status", status=503, headers={"Retry-After": "3"}, times=5)
        faults.add(busy)
        body = await gw.gql(JOB, {"id": OPEN_JOB})
        # Had it slept 3 s, the 1 s deadline would have answered UPSTREAM_TIMEOUT instead.
        assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
        assert busy.times == 4, "one attempt, no retry"
