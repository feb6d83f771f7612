"""request_timeout 1 s and an upstream that takes 3 s to answer a write, on a real socket through
the production transport: the mutation answers in time with OUTCOME_UNKNOWN in its payload
(after reading the job back), never a bare timeout of the whole request; the write was sent once.
"""

from __future__ import annotations

import time

import httpx
import pytest

from jobgate.config import ServerSettings, Settings
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.simulators.fault_proxy import FaultProxy, WireFault
from jobgate.simulators.suite import build_vendors, suite_app
from jobgate.upstream.transport import production_transport
from jobgate.web.app import create_app
from tests.wire import served

ABORT = "mutation($id: ID!) { abortJob(id: $id) { job { id status } error { code message } } }"
JOB = "7505e000001NLkPAAW"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # Applied, but its answer never came: reading the job back shows the abort.
        ("hang-after", {"job": {"id": f"ingest:{JOB}", "status": "ABORTED"}, "error": None}),
        # Never applied: reading back shows it Open; the write may still arrive.
        ("hang-before", "OUTCOME_UNKNOWN"),
    ],
)
async def test_a_write_cut_short_by_the_deadline_answers_a_payload(
    kind: str, expected: object
) -> None:
    vendors = [v for v in build_vendors() if v.provider is DATA_CLOUD]
    async with FaultProxy(suite_app(vendors)) as proxy:
        origin = await proxy.start()
        proxy.add(WireFault("PATCH", r".*/jobs/[^/]+", kind, hang=3.0))
        sources = {v.source: v.source_settings(origin) for v in vendors}
        settings = Settings(
            server=ServerSettings(request_timeout=1.0, probe_sources=False), sources=sources
        )
        app = create_app(settings, transport_factory=production_transport)
        async with served(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as client:
            started = time.monotonic()
            response = await client.post(
                "/graphql",
                json={"query": ABORT, "variables": {"id": f"ingest:{JOB}"}},
                headers={"Accept": "application/graphql-response+json"},
            )
            took = time.monotonic() - started
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["abortJob"]
    if isinstance(expected, str):
        assert payload["job"] is None and payload["error"]["code"] == expected, payload
        assert "Read back" in payload["error"]["message"]
    else:
        assert payload == expected
    assert took < 1.6, f"answered after {took:.2f} s"
    assert proxy.count("PATCH", r".*/jobs/[^/]+") == 1
