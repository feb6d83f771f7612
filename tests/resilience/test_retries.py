"""Which calls are retried, how long the gateway waits, and what is never repeated."""

from __future__ import annotations

import email.utils
import time

import pytest

from jobgate.domain import ErrorCode, JobFailure
from jobgate.logs import request_id_var
from jobgate.upstream.channel import WriteUncertain
from tests.resilience.scripted import FakeTime, Script, channel, request_deadline


async def test_a_read_answered_503_twice_then_200_succeeds_on_the_third_delivery() -> None:
    script, clock = Script(503, 503, 200), FakeTime()
    http = channel(script, clock)
    response = await http.get("/jobs/1")
    assert response.status_code == 200
    assert len(script.delivered) == 3
    assert clock.sleeps == [0.1, 0.2]  # exponential backoff (jitter pinned to its ceiling)


async def test_a_read_answered_503_three_times_gives_up_after_three_deliveries() -> None:
    script = Script(503)
    response = await channel(script).get("/jobs/1")
    assert response.status_code == 503  # the adapter maps it to UPSTREAM_UNAVAILABLE
    assert len(script.delivered) == 3


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_retryable_statuses(status: int) -> None:
    script = Script(status, 200)
    assert (await channel(script).get("/jobs/1")).status_code == 200
    assert len(script.delivered) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 500, 501])
async def test_other_statuses_are_not_retried(status: int) -> None:
    script = Script(status, 200)
    assert (await channel(script).get("/jobs/1")).status_code == status
    assert len(script.delivered) == 1


async def test_a_refused_connection_is_retried_for_a_read() -> None:
    script = Script("refuse", 200)
    assert (await channel(script).get("/jobs/1")).status_code == 200
    assert script.attempts == 2 and len(script.delivered) == 1


async def test_a_read_refused_every_time_is_upstream_unavailable() -> None:
    script = Script("refuse")
    with pytest.raises(JobFailure) as failed:
        await channel(script).get("/jobs/1")
    assert failed.value.error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert script.attempts == 3


async def test_a_search_is_a_read_and_is_retried() -> None:
    script = Script(503, 200)
    assert (await channel(script).search("/jobs/search", json={"ids": [1]})).status_code == 200
    assert len(script.delivered) == 2


async def test_retries_can_be_turned_off() -> None:
    script = Script(503, 200)
    assert (await channel(script, retries=0).get("/jobs/1")).status_code == 503
    assert len(script.delivered) == 1


@pytest.mark.parametrize("method", ["PATCH", "PUT", "POST", "DELETE"])
async def test_a_write_answered_503_is_sent_once(method: str) -> None:
    script = Script((503, {"Retry-After": "0"}), 200)
    assert (await channel(script).write(method, "/jobs/1", json={})).status_code == 503
    assert len(script.delivered) == 1


@pytest.mark.parametrize("method", ["PATCH", "PUT", "POST", "DELETE"])
async def test_a_write_whose_connection_drops_is_sent_once_and_uncertain(method: str) -> None:
    script = Script("drop", 200)
    with pytest.raises(WriteUncertain) as lost:
        await channel(script).write(method, "/jobs/1", json={})
    assert lost.value.error.code is ErrorCode.OUTCOME_UNKNOWN
    assert len(script.delivered) == 1


async def test_a_write_refused_before_sending_is_not_retried_and_not_uncertain() -> None:
    script = Script("refuse", 200)
    with pytest.raises(JobFailure) as refused:
        await channel(script).write("PATCH", "/jobs/1", json={})
    assert not isinstance(refused.value, WriteUncertain)
    assert refused.value.error.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert script.attempts == 1 and not script.delivered


async def test_retry_after_seconds_is_honoured() -> None:
    script, clock = Script((503, {"Retry-After": "2"}), 200), FakeTime()
    http = channel(script, clock)
    assert (await http.get("/jobs/1")).status_code == 200
    assert clock.sleeps == [2.0]


async def test_retry_after_as_an_http_date_is_honoured() -> None:
    later = email.utils.formatdate(time.time() + 3, usegmt=True)
    script, clock = Script((503, {"Retry-After": later}), 200), FakeTime()
    assert (await channel(script, clock).get("/jobs/1")).status_code == 200
    [slept] = clock.sleeps
    assert 1.0 <= slept <= 3.0


async def test_retry_after_is_capped() -> None:
    script, clock = Script((429, {"Retry-After": "3600"}), 200), FakeTime()
    assert (await channel(script, clock).get("/jobs/1")).status_code == 200
    assert clock.sleeps == [5.0]


async def test_no_sleep_goes_past_the_requests_deadline() -> None:
    busy = (503, {"Retry-After": "3"})
    script, clock = Script(busy, busy, 200), FakeTime()
    http = channel(script, clock)
    with request_deadline(2.0, clock):
        response = await http.get("/jobs/1")
    assert response.status_code == 503  # answered now rather than after the deadline
    assert clock.sleeps == [] and len(script.delivered) == 1
    with request_deadline(4.0, clock):
        assert (await http.get("/jobs/1")).status_code == 200
    assert clock.sleeps == [3.0]


async def test_the_retry_budget_runs_out() -> None:
    script = Script(503)
    # A breaker that never opens, so only the budget limits the retries.
    http = channel(script, breaker_failures=10_000)
    deliveries = []
    for _ in range(20):
        before = len(script.delivered)
        assert (await http.get("/jobs/1")).status_code == 503
        deliveries.append(len(script.delivered) - before)
    retries = sum(deliveries) - 20
    # A floor of 3 plus 20% of the 20 calls: at most 7 retries, though 40 were wanted.
    assert 3 <= retries <= 7
    assert deliveries[:2] == [3, 3]
    assert deliveries.count(1) >= 13, "past the budget, a failed read is answered at once"


async def test_the_request_id_goes_upstream() -> None:
    script = Script(200)
    token = request_id_var.set("req-42")
    try:
        await channel(script).get("/jobs/1")
        await channel(script).write("PATCH", "/jobs/1", json={})
    finally:
        request_id_var.reset(token)
    assert [r.headers["x-request-id"] for r in script.delivered] == ["req-42", "req-42"]
