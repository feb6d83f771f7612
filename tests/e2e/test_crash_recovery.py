"""kill -9 between a write reaching the upstream and its answer, then the same Idempotency-Key
again on a new process sharing Redis: the change is found applied and not made twice."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.simulators.fault_proxy import FaultProxy, WireFault
from jobgate.simulators.suite import build_vendors, config_toml, suite_app
from tests.e2e.test_processes import free_port, running

ABORT = (
    "mutation($id: ID!) { abortJob(id: $id) { job { id status } error { code message } "
    "alreadyApplied } }"
)
JOB = "7505e000001NLkPAAW"
PATCH = r".*/api/v1/ingest/jobs/[^/]+"
REQUEST_TIMEOUT = 2  # seconds: the lease is 2 x 2 + 2 = 6 s


def config(tmp_path: Path, upstream: str, redis_url: str) -> Path:
    ingest = [v for v in build_vendors() if v.provider is DATA_CLOUD]
    path = tmp_path / "jobgate.toml"
    path.write_text(
        f"[server]\nrequest_timeout = {REQUEST_TIMEOUT}\n\n"
        f'[idempotency]\nredis_url = "{redis_url}"\n\n' + config_toml(ingest, upstream)
    )
    return path


async def test_a_key_whose_process_died_mid_write_is_resumed_not_repeated(
    tmp_path: Path, redis_server: str
) -> None:
    vendors = [v for v in build_vendors() if v.provider is DATA_CLOUD]
    store = vendors[0].store
    async with FaultProxy(suite_app(vendors)) as proxy:
        upstream = await proxy.start()
        # The abort is applied, then its answer never comes (until long after the kill).
        proxy.add(WireFault("PATCH", PATCH, "hang-after", hang=60))
        cfg = config(tmp_path, upstream, redis_server)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        body = {"query": ABORT, "variables": {"id": f"ingest:{JOB}"}}
        headers = {"Idempotency-Key": "abort-after-crash"}
        with running(tmp_path, "serve", "--config", str(cfg), "--port", str(port)) as first:
            await asyncio.to_thread(first.wait_until_up, base)
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                doomed = asyncio.create_task(client.post("/graphql", json=body, headers=headers))
                for _ in range(300):
                    if store.jobs[JOB]["state"] == "Aborted":
                        break
                    await asyncio.sleep(0.02)
                assert store.jobs[JOB]["state"] == "Aborted", "the write reached the upstream"
                os.kill(first.popen.pid, signal.SIGKILL)  # before the answer could be kept
                first.popen.wait()
                with pytest.raises(httpx.HTTPError):
                    await doomed
        killed_at = time.monotonic()
        with running(tmp_path, "serve", "--config", str(cfg), "--port", str(port)) as second:
            await asyncio.to_thread(second.wait_until_up, base)
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                # While the dead attempt's lease lasts, the key is still held.
                early = await client.post("/graphql", json=body, headers=headers)
                assert early.status_code == 409, early.text
                await asyncio.sleep(max(0.0, killed_at + 6.5 - time.monotonic()))
                retried = await client.post("/graphql", json=body, headers=headers)
        assert retried.status_code == 200, retried.text
        assert retried.json()["data"]["abortJob"] == {
            "job": {"id": f"ingest:{JOB}", "status": "ABORTED"},
            "error": None,
            "alreadyApplied": True,
        }
        assert proxy.count("PATCH", PATCH) == 1, "the abort was sent once, by the dead process"
