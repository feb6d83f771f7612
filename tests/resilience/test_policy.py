"""The pure resilience logic (resilience.py) driven by a hand-moved clock."""

from __future__ import annotations

import email.utils

import pytest

from jobgate.upstream.resilience import (
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    Outcome,
    RetryBudget,
    RetryPolicy,
    parse_retry_after,
    source_health,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_backoff_is_exponential_with_full_jitter() -> None:
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
    assert [policy.delay(n, None, lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [
        0.1,
        0.2,
        0.4,
        0.8,
        1.0,
    ]
    assert policy.delay(3, None, lambda: 0.0) == 0.0
    assert policy.delay(2, None, lambda: 0.5) == pytest.approx(0.1)


def test_retry_after_wins_but_is_capped() -> None:
    policy = RetryPolicy(retry_after_cap=5.0)
    assert policy.delay(1, 2.0, lambda: 1.0) == 2.0
    assert policy.delay(1, 120.0, lambda: 1.0) == 5.0
    assert policy.delay(1, -3.0, lambda: 1.0) == 0.0


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(" 0 ", now) == 0.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now) == 0.0
    for unusable in (None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2024 99:99:99 GMT"):
        assert parse_retry_after(unusable, now) is None, unusable


def test_budget_allows_a_floor_then_a_share_of_calls() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.2, floor=3, window=10, clock=clock)
    budget.record_call()
    # 1 call: up to 3 + 0.2 * 1 = 3.2 retries, so the fourth is still under it.
    assert [budget.try_spend() for _ in range(5)] == [True, True, True, True, False]
    for _ in range(10):
        budget.record_call()
    # 11 calls: up to 3 + 0.2 * 11 = 5.2 retries in the window.
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]


def test_budget_forgets_calls_and_retries_outside_the_window() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.0, floor=2, window=10, clock=clock)
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()
    clock.now += 5
    assert not budget.try_spend()
    clock.now += 6  # the first retries' second has left the window
    assert budget.try_spend()


def opened(clock: FakeClock, failures: int = 3, cooldown: float = 30.0) -> CircuitBreaker:
    """The breaker of a source that worked, then failed ``failures`` times in a row."""
    breaker = CircuitBreaker(failures=failures, cooldown=cooldown, clock=clock)
    breaker.note_reached()
    for _ in range(failures):
        assert breaker.acquire() is False
        breaker.record(Outcome.FAILURE, probe=False)
    assert breaker.state is CircuitState.OPEN
    return breaker


def test_breaker_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failures=3, clock=FakeClock())
    for outcome in [Outcome.FAILURE, Outcome.FAILURE, Outcome.SUCCESS] * 3:
        breaker.acquire()
        breaker.record(outcome, probe=False)
    assert breaker.state is CircuitState.CLOSED
    breaker.record(Outcome.ABANDONED, probe=False)  # a cancelled call says nothing
    assert breaker.state is CircuitState.CLOSED


def test_open_breaker_fails_fast_and_says_when_it_retries() -> None:
    clock = FakeClock()
    breaker = opened(clock, cooldown=30)
    clock.now += 12.2
    with pytest.raises(CircuitOpen) as refused:
        breaker.acquire()
    assert str(refused.value) == "circuit open, retrying in 18 s"
    assert not breaker.allows()
    health = source_health("ingest", [breaker])
    assert not health.healthy and health.retry_in == pytest.approx(17.8)


def test_half_open_lets_one_probe_through_and_its_success_closes() -> None:
    clock = FakeClock()
    changes: list[tuple[str, str]] = []
    breaker = opened(clock)
    breaker.on_transition = lambda before, to, _: changes.append((before.value, to.value))
    clock.now += 30
    assert breaker.state is CircuitState.HALF_OPEN and source_health("s", [breaker]).healthy
    assert breaker.acquire() is True
    with pytest.raises(CircuitOpen, match="probe call is in flight"):
        breaker.acquire()
    breaker.record(Outcome.SUCCESS, probe=True)
    assert breaker.state is CircuitState.CLOSED
    assert breaker.acquire() is False
    assert changes == [("open", "half-open"), ("half-open", "closed")]


def test_a_failed_probe_opens_the_circuit_for_a_new_cooldown() -> None:
    clock = FakeClock()
    breaker = opened(clock, cooldown=10)
    clock.now += 10
    assert breaker.acquire() is True
    breaker.record(Outcome.FAILURE, probe=True)
    assert breaker.state is CircuitState.OPEN
    assert breaker.retry_in() == pytest.approx(10)


def test_an_abandoned_probe_lets_the_next_call_probe() -> None:
    clock = FakeClock()
    breaker = opened(clock)
    clock.now += 30
    assert breaker.acquire() is True
    breaker.record(Outcome.ABANDONED, probe=True)
    assert breaker.acquire() is True


def test_calls_in_flight_when_it_opened_do_not_move_it() -> None:
    clock = FakeClock()
    breaker = opened(clock, cooldown=10)
    breaker.record(Outcome.SUCCESS, probe=False)
    assert breaker.state is CircuitState.OPEN
    clock.now += 5
    breaker.record(Outcome.FAILURE, probe=False)
    assert breaker.retry_in() == pytest.approx(5)  # the cool-down was not extended


def test_a_source_is_as_unhealthy_as_its_worst_channel() -> None:
    clock = FakeClock()
    fine = CircuitBreaker(clock=clock)
    fine.note_reached()
    assert source_health("s", [fine]).healthy
    assert source_health("s", [fine, opened(clock)]).state is CircuitState.OPEN


def test_a_source_nothing_has_reached_yet_is_not_healthy() -> None:
    untried = CircuitBreaker(clock=FakeClock())
    assert untried.state is CircuitState.CLOSED
    assert not source_health("s", [untried]).healthy
    assert not source_health("s", []).healthy
    untried.note_reached()
    assert source_health("s", [untried]).healthy
