"""`jobgate serve --workers 2` as real processes in front of a real `jobgate simulate`."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from jobgate.simulators.suite import build_vendors
from tests.e2e.test_processes import DEMO_JOB, free_port, running, simulated_upstreams

QUERY = f'query WorkersRead {{ job(id: "{DEMO_JOB}") {{ id status }} }}'


def served_requests(metrics_text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "jobgate_graphql_requests_total"
        and sample.labels.get("operation") == "WorkersRead"
    )


def test_two_workers_serve_requests_and_report_metrics_together(tmp_path: Path) -> None:
    gw_port = free_port()
    gw_base = f"http://127.0.0.1:{gw_port}"
    with simulated_upstreams(tmp_path) as config:
        args = ("serve", "--config", str(config), "--port", str(gw_port), "--workers", "2")
        with running(tmp_path, *args) as gateway:
            gateway.wait_until_up(gw_base, "/readyz")
            with httpx.Client(base_url=gw_base, timeout=10) as client:
                for n in range(8):
                    # A fresh connection each time, so that both workers get a share.
                    answer = client.post(
                        "/graphql",
                        json={"query": QUERY},
                        headers={"Connection": "close", "X-Request-Id": f"w-{n}"},
                    )
                    assert answer.json() == {"data": {"job": {"id": DEMO_JOB, "status": "OPEN"}}}
                    assert answer.headers["x-request-id"] == f"w-{n}"
                ready = client.get("/readyz")
                assert ready.status_code == 200, ready.text
                assert {s["name"] for s in ready.json()["sources"]} == {
                    v.source for v in build_vendors()
                }
                # Whichever worker answers the scrape, it counts every worker's requests.
                for _ in range(3):
                    scrape = client.get("/metrics", headers={"Connection": "close"})
                    assert served_requests(scrape.text) == 8
        output = gateway.output()
    assert output.count("Started server process") == 2, output
    assert '"message":"graphql request"' in output and '"request_id":"w-7"' in output


ABORT = "mutation($id: ID!) { abortJob(id: $id) { job { id status } error { code } } }"


def test_two_workers_share_idempotency_keys_without_redis(tmp_path: Path) -> None:
    """Bursts of 50 requests with one key, on 50 connections spread over two workers: the
    mutation runs once per key (each worker's own memory would have run it once per worker)."""
    import asyncio

    gw_port = free_port()
    gw_base = f"http://127.0.0.1:{gw_port}"
    jobs = ["7505e000001NLkPAAW", "7505e000001NLkQAAW"]  # the demo's two Open jobs

    async def burst(job: str) -> list[httpx.Response]:
        body = {"query": ABORT, "variables": {"id": f"ingest:{job}"}}
        headers = {"Idempotency-Key": f"abort-{job}", "Connection": "close"}
        async with httpx.AsyncClient(base_url=gw_base, timeout=30) as client:
            sends = [client.post("/graphql", json=body, headers=headers) for _ in range(50)]
            return list(await asyncio.gather(*sends))

    with simulated_upstreams(tmp_path) as config:
        args = ("serve", "--config", str(config), "--port", str(gw_port), "--workers", "2")
        with running(tmp_path, *args) as gateway:
            gateway.wait_until_up(gw_base, "/readyz")
            for job in jobs:
                answers = asyncio.run(burst(job))
                ran = [
                    a
                    for a in answers
                    if a.status_code == 200 and "idempotent-replayed" not in a.headers
                ]
                assert len(ran) == 1, [a.text for a in ran]
                assert ran[0].json()["data"]["abortJob"]["job"]["status"] == "ABORTED"
                for answer in answers:
                    assert answer.status_code in (200, 409), answer.text
                    if answer.status_code == 200:
                        assert answer.content == ran[0].content
