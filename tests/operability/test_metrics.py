"""`GET /metrics`: the Prometheus series operators alert on, after some traffic."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobgate.config import ServerSettings
from jobgate.simulators.faults import Fault
from tests import harness

OPEN_JOB = "ingest:7505e000001NLkPAAW"
HUB_JOB = "hub:6168"
JOB_PATH = r".*/api/v1/ingest/jobs/[^/]+"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_after_traffic() -> None:
    async with harness.gateway(breaker_failures=1) as gw:
        before = samples((await gw.client.get("/metrics")).text)
        body = await gw.gql(
            f'query MetricsBatch {{ jobs(ids: ["{OPEN_JOB}", "{HUB_JOB}", "bad"]) {{ id }} }}'
        )
        assert len(body["errors"]) == 1
        gw.faults["ingest"].add(Fault("GET", JOB_PATH, "status", status=503, times=-1))
        await gw.gql(f'query MetricsFail {{ job(id: "{OPEN_JOB}") {{ id }} }}')
        response = await gw.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "jobgate_graphql_requests_total"
    assert delta(requests, operation="MetricsBatch", type="query", outcome="error") == 1
    assert delta(requests, operation="MetricsFail", type="query", outcome="error") == 1
    errors = "jobgate_graphql_errors_total"
    assert delta(errors, operation="MetricsBatch", code="INVALID_ID") == 1
    assert delta(errors, operation="MetricsFail", code="UPSTREAM_UNAVAILABLE") == 1
    assert delta("jobgate_graphql_request_duration_seconds_count", type="query") == 2

    upstream = "jobgate_upstream_requests_total"
    ok = {"source": "ingest", "operation": "read", "method": "GET"}
    assert delta(upstream, **ok, status="200") == 1
    # One read of a job answered 503 three times (two retries): one failed call, which opened
    # the circuit (breaker_failures=1).
    assert delta(upstream, **ok, status="503") == 3
    assert delta("jobgate_upstream_retries_total", source="ingest", reason="503") == 2
    assert (
        delta("jobgate_upstream_request_duration_seconds_count", source="ingest", operation="read")
        == 4
    )
    assert (
        value(
            after,
            "jobgate_upstream_request_duration_seconds_bucket",
            source="hub",
            operation="read",
            le="+Inf",
        )
        >= 1
    )

    assert value(after, "jobgate_upstream_circuit_state", source="ingest") == 2
    assert value(after, "jobgate_upstream_circuit_state", source="hub") == 0
    assert delta("jobgate_upstream_circuit_transitions_total", source="ingest", state="open") == 1

    # One DataLoader batch of three ids, then one of one.
    assert delta("jobgate_dataloader_batch_size_count") == 2
    assert delta("jobgate_dataloader_batch_size_sum") == 3 + 1


async def test_retries_are_counted_by_reason() -> None:
    async with harness.gateway() as gw:
        before = samples((await gw.client.get("/metrics")).text)
        gw.faults["ingest"].add(Fault("GET", JOB_PATH, "status", status=503, times=2))
        body = await gw.gql(f'{{ job(id: "{OPEN_JOB}") {{ id }} }}')
        assert body == {"data": {"job": {"id": OPEN_JOB}}}
        after = samples((await gw.client.get("/metrics")).text)
    retries = "jobgate_upstream_retries_total"
    labels = {"source": "ingest", "reason": "503"}
    assert value(after, retries, **labels) - value(before, retries, **labels) == 2


@pytest.mark.parametrize("name", ["", "not a name!", "x" * 100])
async def test_unusable_operation_names_do_not_become_labels(name: str) -> None:
    async with harness.gateway() as gw:
        await gw.client.post(
            "/graphql", json={"query": "{ sources { name } }", "operationName": name or None}
        )
        text = (await gw.client.get("/metrics")).text
    if name:
        assert f'operation="{name}"' not in text
    else:
        assert 'operation="anonymous"' in text


async def test_metrics_can_be_switched_off() -> None:
    async with harness.gateway(server=ServerSettings(metrics=False)) as gw:
        assert (await gw.client.get("/metrics")).status_code == 404


def test_an_operation_named_after_a_credential_is_not_a_label() -> None:
    from jobgate.metrics import metrics
    from jobgate.redaction import secrets

    secrets().add("tokenLikeSecretValue42")
    try:
        assert metrics().operation_label("tokenLikeSecretValue42") == "other"
        assert metrics().operation_label("Q_tokenLikeSecretValue42_x") == "other"
    finally:
        secrets().discard("tokenLikeSecretValue42")
