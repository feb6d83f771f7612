"""Retry policy, retry budget and circuit breaker for one source: pure logic, driven by a clock.

Nothing here does I/O or sleeps; ``Channel`` asks these objects what to do and tells them
what happened. Every class takes its clock as an argument so tests can move time by hand.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum

Clock = Callable[[], float]

# Only answers that say "nothing was done, try again later" are worth repeating for a read.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})

# The absolute time (time.monotonic) by which the current GraphQL request must be answered.
request_deadline_var: ContextVar[float | None] = ContextVar("jobgate_deadline", default=None)
# The last moment a write may still be waiting for its answer: the rest of the request's time
# is kept for reading the job back, so that a mutation always answers a truthful payload.
write_deadline_var: ContextVar[float | None] = ContextVar("jobgate_write_deadline", default=None)
# How much of the request's time a write leaves for the read-back: a quarter, at most 5 s.
READ_BACK_SHARE = 0.25
READ_BACK_MAX = 5.0


def read_back_reserve(request_timeout: float) -> float:
    return min(READ_BACK_MAX, request_timeout * READ_BACK_SHARE)


def parse_retry_after(value: str | None, now_epoch: float | None = None) -> float | None:
    """``Retry-After`` in seconds from now (delta-seconds or an HTTP date); None if unusable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; a naive one is read as such
        return None
    now = time.time() if now_epoch is None else now_epoch
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before repeating a failed read."""

    retries: int = 2
    base_delay: float = 0.1
    max_delay: float = 2.0
    # A hostile or confused upstream must not park a request for minutes.
    retry_after_cap: float = 5.0

    def delay(self, retry: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        """Seconds to wait before retry number ``retry`` (1-based).

        The upstream's own ``Retry-After`` wins (capped); otherwise exponential backoff with full
        jitter, so that clients that failed together do not come back together.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))
        return float(rand() * ceiling)


class RetryBudget:
    """Retries stay a small share of the traffic: at most ``ratio`` of the calls in the last
    ``window`` seconds, plus ``floor`` retries per window so a quiet source can still retry.

    Without a budget, retries multiply load on an upstream exactly when it is struggling.
    Counts are kept in one-second buckets so memory stays constant whatever the traffic.
    """

    def __init__(
        self,
        *,
        ratio: float = 0.2,
        floor: int = 3,
        window: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.floor = floor
        self.window = max(1, math.ceil(window))
        self.clock = clock
        self._calls = [0] * self.window
        self._retries = [0] * self.window
        self._epochs = [-1] * self.window

    def _bucket(self) -> int:
        second = int(self.clock())
        index = second % self.window
        if self._epochs[index] != second:  # a bucket from an earlier window: start it afresh
            self._epochs[index] = second
            self._calls[index] = 0
            self._retries[index] = 0
        return index

    def _totals(self) -> tuple[int, int]:
        oldest = int(self.clock()) - self.window + 1
        live = [i for i in range(self.window) if self._epochs[i] >= oldest]
        return sum(self._calls[i] for i in live), sum(self._retries[i] for i in live)

    def record_call(self) -> None:
        self._calls[self._bucket()] += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget if there is one left."""
        index = self._bucket()
        calls, retries = self._totals()
        if retries >= self.floor + self.ratio * calls:
            return False
        self._retries[index] += 1
        return True


class CircuitState(Enum):
    CLOSED = "closed"
    HALF_OPEN = "half-open"
    OPEN = "open"

    @property
    def level(self) -> int:
        """For the metrics gauge: 0 closed, 1 half-open, 2 open."""
        return {"closed": 0, "half-open": 1, "open": 2}[self.value]


class Outcome(Enum):
    SUCCESS = "success"  # the upstream answered (2xx-4xx): it is alive
    FAILURE = "failure"  # timeout, connection trouble or 5xx
    ABANDONED = "abandoned"  # we gave up before knowing (cancelled, no slot): says nothing


class CircuitOpen(Exception):
    """The breaker refused a call; ``retry_in`` is how long until it lets a probe through."""

    def __init__(self, retry_in: float, *, probing: bool = False) -> None:
        super().__init__(
            "circuit half-open, a probe call is in flight"
            if probing
            else f"circuit open, retrying in {math.ceil(retry_in)} s"
        )
        self.retry_in = retry_in
        self.probing = probing


Transition = Callable[[CircuitState, CircuitState, int], None]


class CircuitBreaker:
    """Fail fast after ``failures`` consecutive failed calls; after ``cooldown`` seconds let one
    probe through: its success closes the circuit, its failure opens it again."""

    def __init__(
        self,
        *,
        failures: int = 5,
        cooldown: float = 30.0,
        clock: Clock = time.monotonic,
        on_transition: Transition | None = None,
    ) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self.clock = clock
        self.on_transition = on_transition
        self._state = CircuitState.CLOSED
        self._consecutive = 0
        self._opened_at = 0.0
        self._probe_in_flight = False
        # Whether any call has ever been answered usably: until then nobody knows the source works.
        self.reached = False

    @property
    def state(self) -> CircuitState:
        """The state as of now: an open circuit whose cool-down is over counts as half-open."""
        if self._state is CircuitState.OPEN and self.retry_in() <= 0:
            return CircuitState.HALF_OPEN
        return self._state

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when not open)."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.cooldown - self.clock())

    def allows(self) -> bool:
        """Whether a call made now would be let through (without taking the probe)."""
        state = self.state
        return state is CircuitState.CLOSED or (
            state is CircuitState.HALF_OPEN and not self._probe_in_flight
        )

    def acquire(self) -> bool:
        """Let a call through or raise ``CircuitOpen``; True when the call is the probe."""
        state = self.state
        if state is CircuitState.CLOSED:
            return False
        if state is CircuitState.OPEN:
            raise CircuitOpen(self.retry_in())
        if self._probe_in_flight:
            raise CircuitOpen(0.0, probing=True)
        self._move(CircuitState.HALF_OPEN)
        self._probe_in_flight = True
        return True

    def record(self, outcome: Outcome, *, probe: bool) -> None:
        """What became of a call that was let through (``probe`` as ``acquire`` answered).

        Only the probe moves a half-open circuit; a call that was already in flight when the
        circuit opened neither closes it nor extends the cool-down.
        """
        if probe:
            self._probe_in_flight = False
        if outcome is Outcome.ABANDONED:
            return
        if outcome is Outcome.SUCCESS:
            self._consecutive = 0
            if probe:
                self._move(CircuitState.CLOSED)
            return
        self._consecutive += 1
        if probe or (self._state is CircuitState.CLOSED and self._consecutive >= self.threshold):
            self._opened_at = self.clock()
            self._move(CircuitState.OPEN)

    def note_reached(self) -> None:
        """A call was answered with something other than a server error or a refusal."""
        self.reached = True

    def _move(self, to: CircuitState) -> None:
        before, self._state = self._state, to
        if before is not to and self.on_transition is not None:
            self.on_transition(before, to, self._consecutive)


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What ``sources`` and ``/readyz`` report for one source."""

    name: str
    state: CircuitState
    retry_in: float
    reached: bool = True  # a call (or the start-up probe) has been answered usably

    @property
    def healthy(self) -> bool:
        """Known to work: reached at least once, and its circuit is not open."""
        return self.reached and self.state is not CircuitState.OPEN


def source_health(name: str, breakers: Sequence[CircuitBreaker]) -> SourceHealth:
    """A source with several channels is as unhealthy as its worst one."""
    if not breakers:
        return SourceHealth(name, CircuitState.CLOSED, 0.0, reached=False)
    worst = max(breakers, key=lambda b: (b.state.level, b.retry_in()))
    reached = all(b.reached for b in breakers)
    return SourceHealth(name, worst.state, worst.retry_in(), reached=reached)
