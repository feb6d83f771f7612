"""JSON log lines: one per GraphQL request and per upstream attempt, tied by the request id,
and never a token or a secret, whatever goes wrong."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from typing import Any

import orjson

from jobgate.logs import JsonFormatter
from jobgate.simulators.faults import Fault
from tests import harness
from tests.contract.cases import CASES

OPEN_JOB = "ingest:7505e000001NLkPAAW"
JOB_PATH = r".*/api/v1/ingest/jobs/[^/]+"


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything every logger writes, at every level, formatted as in production."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


async def test_request_and_upstream_lines_share_the_request_id() -> None:
    async with harness.gateway() as gw:
        seen = gw.record_header("ingest", "x-request-id")
        gw.faults["ingest"].add(Fault("GET", JOB_PATH, "status", status=503, times=1))
        with captured_logs() as out:
            body = await gw.gql(
                "query ReadOne($id: ID!) { job(id: $id) { id } }",
                {"id": OPEN_JOB},
                **{"X-Request-Id": "trace-123"},
            )
    assert body == {"data": {"job": {"id": OPEN_JOB}}}
    # Two token requests (Salesforce's, then the exchange), and the read: the 503 was
    # answered by the fault, the retry delivered.
    assert seen == ["trace-123"] * 3
    logged = lines(out)
    [request] = [line for line in logged if line["message"] == "graphql request"]
    assert request["request_id"] == "trace-123"
    assert request["operation"] == "ReadOne" and request["operation_type"] == "query"
    assert request["outcome"] == "ok" and request["codes"] == [] and request["status"] == 200
    assert request["duration_ms"] >= 0
    calls = [line for line in logged if line["message"] == "upstream call"]
    assert [(c["status"], c["attempt"]) for c in calls] == [(503, 1), (200, 2)]
    assert {c["request_id"] for c in calls} == {"trace-123"}
    assert {c["source"] for c in calls} == {"ingest"}
    assert all(c["method"] == "GET" and c["operation"] == "read" for c in calls)
    [retry] = [line for line in logged if line["message"] == "upstream retry"]
    assert retry["reason"] == "503" and retry["attempt"] == 2


async def test_a_failed_request_logs_its_codes() -> None:
    async with harness.gateway() as gw:
        gw.faults["ingest"].add(Fault("GET", JOB_PATH, "status", status=404, times=1))
        with captured_logs() as out:
            await gw.gql(
                'mutation Close { closeJob(id: "ingest:7505e000001NLkPAAW") { error { code } } }'
            )
            await gw.gql('{ job(id: "nope") { id } }')
    requests = [line for line in lines(out) if line["message"] == "graphql request"]
    assert [(r["operation"], r["operation_type"], r["outcome"], r["codes"]) for r in requests] == [
        ("Close", "mutation", "error", ["NOT_FOUND"]),
        (None, "query", "error", ["INVALID_ID"]),
    ]


async def test_no_secret_in_any_log_line_of_a_run_full_of_failures() -> None:
    async with harness.gateway(breaker_failures=2, timeout=0.2) as gw:
        settings = gw.app.state.settings.sources
        providers = gw.app.state.gateway.providers
        for provider in providers.values():
            assert await provider.probe() is None  # every source has obtained its token
        secrets = {s for source in settings.values() for s in source.secrets()}
        secrets |= {s for p in providers.values() for s in p.http.credentials.secrets()}
        assert len(secrets) >= 8  # client secrets, a password, and the tokens obtained
        ids = []
        for name, faults in gw.faults.items():
            sim = next(v for v in gw.vendors if v.source == name)
            case = next(c for c in CASES if c.provider is sim.provider)
            ids.append(f"{name}:{case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0])}")
            echo = " ".join(f"Bearer {s} client_secret={s}" for s in secrets).encode()
            faults.add(Fault("*", ".*", "status", status=500, body=echo, times=1))
            faults.add(Fault("*", ".*", "status", status=503, body=echo, times=2))
            faults.add(Fault("*", ".*", "refuse", times=1))
            faults.add(Fault("*", ".*", "delay", delay=1, times=1))
            faults.add(Fault("*", ".*", "drop-after", times=1))
        with captured_logs() as out:
            for _ in range(4):
                await gw.gql("query($ids: [ID!]!) { jobs(ids: $ids) { id } }", {"ids": ids})
                await gw.gql(
                    f'mutation {{ closeJob(id: "{OPEN_JOB}") {{ error {{ code message }} }} }}'
                )
                await gw.gql("{ sources { name healthy } }")
            await gw.client.get("/readyz")
            await gw.client.get("/metrics")
    text = out.getvalue()
    logged = lines(out)
    assert any(line["message"] == "circuit open" for line in logged), "the run had failures"
    sources = {line.get("source") for line in logged if line["message"] == "upstream call"}
    assert sources == set(gw.faults), "every source was called"
    for secret in secrets:
        assert secret not in text, "a secret reached the logs"
    assert "authorization" not in text.lower()
