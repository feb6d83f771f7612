"""`jobgate serve --workers 2` as real processes in front of a real `jobgate simulate`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from jobgate.simulators.suite import build_vendors
from tests.e2e.test_processes import DEMO_JOB, Process, free_port, running, simulated_upstreams

QUERY = f'query WorkersRead {{ job(id: "{DEMO_JOB}") {{ id status }} }}'


def served_requests(metrics_text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "jobgate_graphql_requests_total"
        and sample.labels.get("operation") == "WorkersRead"
    )


@contextlib.contextmanager
def two_workers(tmp_path: Path, port: int, *, wait: bool = True) -> Iterator[Process]:
    """`jobgate serve --workers 2` on ``port`` over a running `jobgate simulate`; ``wait``:
    until it is ready."""
    with simulated_upstreams(tmp_path) as config:
        args = ("serve", "--config", str(config), "--port", str(port), "--workers", "2")
        with running(tmp_path, *args) as gateway:
            if wait:
                gateway.wait_until_up(f"http://127.0.0.1:{port}", "/readyz")
            yield gateway


def test_two_workers_serve_requests_and_report_metrics_together(tmp_path: Path) -> None:
    gw_port = free_port()
    gw_base = f"http://127.0.0.1:{gw_port}"
    with two_workers(tmp_path, gw_port) as gateway:
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

    with two_workers(tmp_path, gw_port):
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


def listening_sockets(port: int) -> int:
    """LISTEN sockets on ``port`` (any address), from /proc/net/tcp and tcp6."""
    found = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                local, state = row.split()[1], row.split()[3]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    found += 1
    return found


def worker_pids(supervisor: int) -> set[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as children:
        pids = {int(pid) for pid in children.read().split()}
    found = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"spawn_main" in cmdline.read():
                    found.add(pid)
        except FileNotFoundError:
            continue
    return found


def fresh_request_prefixes(base: str, count: int) -> set[str]:
    """Which processes answered ``count`` requests on new connections (the request ids a
    gateway makes start with a per-process prefix)."""
    prefixes = set()
    for _ in range(count):
        with httpx.Client(base_url=base, timeout=10) as client:  # a new connection each
            answer = client.post("/graphql", json={"query": QUERY})
            assert answer.status_code == 200, answer.text
            prefixes.add(answer.headers["x-request-id"].split("-")[0])
    return prefixes


def test_each_worker_listens_on_its_own_socket_and_new_connections_spread(
    tmp_path: Path,
) -> None:
    gw_port = free_port()
    gw_base = f"http://127.0.0.1:{gw_port}"
    with two_workers(tmp_path, gw_port) as gateway:
        wait_for(lambda: listening_sockets(gw_port) == 2)  # SO_REUSEPORT: one per worker
        assert len(fresh_request_prefixes(gw_base, 40)) == 2  # the kernel spreads them
        # A worker that dies is replaced; the port keeps answering meanwhile.
        first = worker_pids(gateway.popen.pid)
        assert len(first) == 2
        os.kill(min(first), signal.SIGKILL)
        wait_for(lambda: len(worker_pids(gateway.popen.pid) - first) == 1)
        wait_for(lambda: listening_sockets(gw_port) == 2)
        assert len(fresh_request_prefixes(gw_base, 40)) == 2
    # SIGINT: the workers finish and exit, and so does the supervisor, cleanly.
    assert gateway.popen.returncode == 0, gateway.output()
    assert "worker exited: starting another" in gateway.output()


def test_a_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with two_workers(tmp_path, port, wait=False) as gateway:
            assert gateway.popen.wait(timeout=30) == 1
        output = gateway.output()
    finally:
        taken.close()
    assert f"jobgate: cannot listen on 127.0.0.1:{port}: Address already in use" in output
    assert "Traceback" not in output


def wait_for(condition: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "not within time"
        time.sleep(0.1)
