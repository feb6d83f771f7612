"""The circuit breaker and the concurrency limit as an adapter's channel sees them."""

from __future__ import annotations

import asyncio
import time

import pytest

from jobgate.domain import ErrorCode, JobFailure
from jobgate.upstream.resilience import CircuitState, Outcome
from tests.resilience.scripted import FakeTime, Script, channel, request_deadline


async def test_five_failed_calls_open_the_circuit_and_then_nothing_is_sent() -> None:
    script, clock = Script(500), FakeTime()
    http = channel(script, clock)
    for _ in range(5):
        assert (await http.get("/jobs/1")).status_code == 500
    assert http.breaker.state is CircuitState.OPEN
    started = time.monotonic()
    for _ in range(3):
        with pytest.raises(JobFailure) as refused:
            await http.get("/jobs/1")
        assert refused.value.error.code is ErrorCode.UPSTREAM_UNAVAILABLE
        assert "circuit open, retrying in 30 s" in refused.value.error.message
    with pytest.raises(JobFailure):
        await http.write("PATCH", "/jobs/1", json={})
    assert time.monotonic() - started < 2
    assert len(script.delivered) == 5


@pytest.mark.parametrize("failure", ["refuse", "drop", 502])
async def test_timeouts_connection_trouble_and_5xx_count_as_failures(failure: str | int) -> None:
    script = Script(failure)
    http = channel(script, retries=0, breaker_failures=3)
    for _ in range(3):
        with pytest.raises(JobFailure):
            response = await http.get("/jobs/1")
            assert response.status_code >= 500
            raise JobFailure(http.error(response))
    assert http.breaker.state is CircuitState.OPEN


async def test_a_timeout_counts_as_a_failure() -> None:
    http = channel(Script("hang"), timeout=0.05, breaker_failures=2)
    for _ in range(2):
        with pytest.raises(JobFailure) as slow:
            await http.get("/jobs/1")
        assert slow.value.error.code is ErrorCode.UPSTREAM_TIMEOUT
    assert http.breaker.state is CircuitState.OPEN


async def test_hanging_reads_end_at_the_source_timeout_or_the_request_deadline_if_sooner() -> None:
    """Attempts given the source's whole timeout share one loop timer; one with less of the
    request's time left gets a timer of its own. Both end the read as a timeout."""
    clock = FakeTime()
    http = channel(Script("hang"), clock, timeout=0.1, max_concurrency=8, breaker_failures=99)
    started = time.monotonic()
    reads = (http.get(f"/jobs/{n}") for n in range(8))
    failed = await asyncio.gather(*reads, return_exceptions=True)
    assert 0.09 < time.monotonic() - started < 1
    for failure in failed:
        assert isinstance(failure, JobFailure), failure
        assert failure.error.code is ErrorCode.UPSTREAM_TIMEOUT
        assert "did not answer within 0.1 s" in failure.error.message
    with request_deadline(0.03, clock), pytest.raises(JobFailure) as sooner:
        await http.get("/jobs/9")
    assert "did not answer within 0.03 s" in sooner.value.error.message


@pytest.mark.parametrize("status", [400, 404, 409, 422, 429])
async def test_4xx_answers_never_open_it(status: int) -> None:
    http = channel(Script(status), retries=0)
    for _ in range(20):
        await http.get("/jobs/1")
    assert http.breaker.state is CircuitState.CLOSED


async def test_a_read_and_its_retries_count_once() -> None:
    """One failing query with its retry is one failed call, not two: it takes three failing
    calls (six attempts) to open a circuit whose breaker_failures is 3."""
    script = Script(503)
    http = channel(script, retries=1, breaker_failures=3)
    for _ in range(2):
        await http.get("/jobs/1")  # two failed attempts each
    assert len(script.delivered) == 4
    assert http.breaker.state is CircuitState.CLOSED
    await http.get("/jobs/1")  # the third failed call
    assert http.breaker.state is CircuitState.OPEN
    with pytest.raises(JobFailure, match="circuit open"):
        await http.get("/jobs/1")
    assert len(script.delivered) == 6


async def test_an_opening_circuit_stops_the_retries_of_calls_in_flight() -> None:
    script, clock = Script(503), FakeTime()

    async def another_call_fails_meanwhile(seconds: float) -> None:
        http.breaker.record(Outcome.FAILURE, probe=False)
        await clock.sleep(seconds)

    http = channel(script, clock, breaker_failures=1)
    http.guard._sleep = another_call_fails_meanwhile
    assert (await http.get("/jobs/1")).status_code == 503
    assert len(script.delivered) == 1, "no retry once the circuit is open"
    assert http.breaker.state is CircuitState.OPEN


async def test_after_the_cooldown_one_probe_goes_through_and_success_closes() -> None:
    script, clock = Script(500, 500, 500, 200), FakeTime()
    http = channel(script, clock, breaker_failures=3, breaker_cooldown=10)
    for _ in range(3):
        await http.get("/jobs/1")
    with pytest.raises(JobFailure, match="retrying in 4 s"):
        clock.now += 6.5
        await http.get("/jobs/1")
    clock.now += 3.5
    assert http.breaker.state is CircuitState.HALF_OPEN
    assert (await http.get("/jobs/1")).status_code == 200
    assert http.breaker.state is CircuitState.CLOSED
    assert len(script.delivered) == 4


async def test_a_failed_probe_opens_it_again() -> None:
    script, clock = Script(500), FakeTime()
    http = channel(script, clock, breaker_failures=2, breaker_cooldown=10)
    for _ in range(2):
        await http.get("/jobs/1")
    clock.now += 10
    assert (await http.get("/jobs/1")).status_code == 500  # the probe
    assert http.breaker.state is CircuitState.OPEN
    with pytest.raises(JobFailure, match="retrying in 10 s"):
        await http.get("/jobs/1")
    assert len(script.delivered) == 3


async def test_while_the_probe_is_out_other_calls_fail_fast() -> None:
    clock = FakeTime()
    script = Script(500, 500, "hang")
    http = channel(script, clock, breaker_failures=2, breaker_cooldown=1, timeout=5)
    for _ in range(2):
        await http.get("/jobs/1")
    clock.now += 1
    probe = asyncio.create_task(http.get("/jobs/1"))
    script.arrived.clear()
    await script.arrived.wait()
    with pytest.raises(JobFailure, match="probe call is in flight"):
        await http.get("/jobs/2")
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe
    assert http.breaker.state is CircuitState.HALF_OPEN  # the next call may probe


async def test_a_call_that_gets_no_slot_within_the_deadline_times_out_unsent() -> None:
    script, clock = Script("hang"), FakeTime()
    http = channel(script, clock, max_concurrency=1, timeout=5)
    holder = asyncio.create_task(http.get("/jobs/1"))
    await script.arrived.wait()
    started = time.monotonic()
    with request_deadline(0.1, clock), pytest.raises(JobFailure) as busy:
        await http.get("/jobs/2")
    assert time.monotonic() - started < 2
    assert busy.value.error.code is ErrorCode.UPSTREAM_TIMEOUT
    assert "no free slot" in busy.value.error.message
    assert script.attempts == 1
    holder.cancel()
    with pytest.raises(asyncio.CancelledError):
        await holder
    assert http.breaker.state is CircuitState.CLOSED  # waiting for a slot is not a failure
