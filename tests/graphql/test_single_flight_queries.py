"""Single flight through the whole app: concurrent requests for one job make one upstream GET."""

from __future__ import annotations

import asyncio

from jobgate.domain.data_cloud import DATA_CLOUD
from tests import harness
from tests.unit.test_single_flight import JOBS, OPEN, GatedTransport, settle

QUERY = '{ jobs(ids: ["ingest:%s"]) { id status providerStatus } }'
CLOSE = 'mutation { closeJob(id: "ingest:%s") { job { status } error { code } } }'


async def test_concurrent_requests_for_one_job_share_one_upstream_read() -> None:
    async with harness.gateway([harness.vendor(DATA_CLOUD)]) as gw:
        faulty = gw.faults["ingest"]
        gated = GatedTransport(faulty.inner)
        faulty.inner = gated
        held = gated.hold("GET", f"{JOBS}/{OPEN}")
        first = asyncio.create_task(gw.gql(QUERY % OPEN))
        await held.until_arrived()
        others = [asyncio.create_task(gw.gql(QUERY % OPEN)) for _ in range(3)]
        await settle()
        held.release.set()
        bodies = [await first, *[await other for other in others]]
        for body in bodies:
            assert body == {
                "data": {
                    "jobs": [{"id": f"ingest:{OPEN}", "status": "OPEN", "providerStatus": "Open"}]
                }
            }
        assert faulty.calls("GET", f"{JOBS}/{OPEN}") == 1


async def test_a_query_after_a_mutation_sees_the_write() -> None:
    async with harness.gateway([harness.vendor(DATA_CLOUD)]) as gw:
        faulty = gw.faults["ingest"]
        gated = GatedTransport(faulty.inner)
        faulty.inner = gated
        held = gated.hold("GET", f"{JOBS}/{OPEN}")  # a read begun before the write, held
        stale = asyncio.create_task(gw.gql(QUERY % OPEN))
        await held.until_arrived()
        closed = await gw.gql(CLOSE % OPEN)
        assert closed["data"]["closeJob"] == {"job": {"status": "QUEUED"}, "error": None}
        fresh = await gw.gql(QUERY % OPEN)
        assert fresh["data"]["jobs"][0]["providerStatus"] == "UploadComplete"
        assert not stale.done()
        held.release.set()
        await stale


async def test_coalesce_reads_false_in_the_config_gives_each_request_its_own_read() -> None:
    vendors = [harness.vendor(DATA_CLOUD)]
    async with harness.gateway(vendors, coalesce_reads=False) as gw:
        faulty = gw.faults["ingest"]
        gated = GatedTransport(faulty.inner)
        faulty.inner = gated
        held = gated.hold("GET", f"{JOBS}/{OPEN}", times=2)
        first = asyncio.create_task(gw.gql(QUERY % OPEN))
        await held.until_arrived()
        second = asyncio.create_task(gw.gql(QUERY % OPEN))
        await asyncio.wait_for(held.until_arrived(2), 5)  # the second read went upstream too
        held.release.set()
        for body in (await first, await second):
            assert body["data"]["jobs"][0]["providerStatus"] == "Open"
        assert faulty.calls("GET", f"{JOBS}/{OPEN}") == 2
