"""The guarded path of every upstream call: circuit breaker, bounded wait for a concurrency slot,
per-attempt timeout, retries of reads, and one log line and metric sample per attempt.

``Channel`` (channel.py) is the face adapters use; this is the machinery behind its ``_send``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from jobgate.domain import ErrorCode, JobError, JobFailure
from jobgate.internals.httpx import UpstreamClient
from jobgate.metrics import labelled, metrics
from jobgate.telemetry import RouteTemplates, call_span, traced
from jobgate.timeouts import SharedTimeout
from jobgate.upstream.attempts import note_attempt
from jobgate.upstream.errors import AnswerTooLarge, clip
from jobgate.upstream.resilience import (
    RETRYABLE_STATUSES,
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    Clock,
    Outcome,
    RetryBudget,
    RetryPolicy,
    parse_retry_after,
    request_deadline_var,
    write_deadline_var,
)
from jobgate.upstream.urls import SourceUrls

log = logging.getLogger("jobgate.upstream")

# A call made outside any GraphQL request (tests, scripts) still ends: the contract's 30 s.
DEFAULT_CALL_DEADLINE = 30.0
# A write is not sent with less time than this left before its deadline (seconds).
MIN_WRITE_WINDOW = 0.05
# Timeouts after which a write may or may not have reached the upstream.
_UNCERTAIN = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout, TimeoutError)
# Attempt statuses for calls that were never sent.
_NOT_SENT = frozenset({"circuit-open", "no-slot", "deadline"})
# Answers that say the upstream is there but will not serve this source's credentials.
_REFUSED = frozenset({401, 403, 407})


class WriteUncertain(JobFailure):
    """A write may have reached the upstream but no answer came back."""


class NotConnected(JobFailure):
    """The connection never opened, so nothing was sent: a read may safely be retried."""


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    operation: str  # read | search | write: only writes change anything upstream
    params: Mapping[str, str] | None = None
    content: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    renewed: bool = False  # the one repeat after the upstream refused the token


class _Failed(Exception):
    """An attempt failed: the status label it is logged with, the error to raise, and what it
    tells the breaker (a call never sent says nothing about the upstream)."""

    def __init__(self, status: str, failure: JobFailure) -> None:
        super().__init__(status)
        self.status = status
        self.failure = failure
        self.outcome = Outcome.ABANDONED if status in _NOT_SENT else Outcome.FAILURE


def describe(exc: Exception) -> str:
    """A transport failure in a few words (aiohttp's and httpx's own texts, clipped)."""
    return clip(str(exc) or type(exc).__name__, 200)


def _fail(code: ErrorCode, message: str) -> JobFailure:
    return JobFailure(JobError(code, message))


class CallGuard:
    """Sends one source's calls; holds that source's breaker, retry budget and slots."""

    def __init__(
        self,
        source: str,
        client: UpstreamClient,
        *,
        timeout: float,
        max_concurrency: int,
        retries: int = 2,
        breaker_failures: int = 5,
        breaker_cooldown: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        routes: RouteTemplates | None = None,
    ) -> None:
        self.source = source
        self.client = client
        self.routes = routes or RouteTemplates(())
        self.timeout = timeout
        self.max_concurrency = max_concurrency
        self.policy = RetryPolicy(retries=retries)
        self.budget = RetryBudget(clock=clock)
        self.breaker = CircuitBreaker(
            failures=breaker_failures,
            cooldown=breaker_cooldown,
            clock=clock,
            on_transition=self._circuit_moved,
        )
        self._slots = asyncio.Semaphore(max_concurrency)
        self._whole_timeout = SharedTimeout(timeout)  # attempts given the whole timeout
        self._base = ""
        self.rebase(str(client.base_url))
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        metrics().circuit_state.labels(source).set(CircuitState.CLOSED.level)

    def rebase(self, base_url: str) -> None:
        """Send later calls to ``base_url`` (Data Cloud learns its host from the token)."""
        base = base_url.rstrip("/")
        if base == self._base:
            return
        self._base = base
        self.client.rebase(base)
        self._url = SourceUrls(base)  # the absolute URL of a call's path

    async def send(self, call: Call) -> httpx.Response:
        """The upstream's answer, after retries for reads; failures raise ``JobFailure``.

        The breaker sees one logical call: a read and its retries count once, with the
        outcome of the last attempt, so one failing request cannot open a circuit alone.
        """
        deadline = request_deadline_var.get()
        if deadline is None:
            deadline = self._clock() + DEFAULT_CALL_DEADLINE
        try:
            probe = self.breaker.acquire()
        except CircuitOpen as exc:
            self._observe(call, "circuit-open", 1, 0.0)
            message = f"Source '{self.source}' is failing: {exc}."
            raise _fail(ErrorCode.UPSTREAM_UNAVAILABLE, message) from None
        self.budget.record_call()
        outcome = Outcome.ABANDONED  # cancelled: says nothing about the upstream
        try:
            response = await self._attempts(call, deadline)
            status = response.status_code
            outcome = Outcome.FAILURE if status >= 500 else Outcome.SUCCESS
            if status < 500 and status not in _REFUSED:
                self.breaker.note_reached()
            return response
        except _Failed as exc:
            outcome = exc.outcome
            raise exc.failure from None
        finally:
            self.breaker.record(outcome, probe=probe)

    async def _attempts(self, call: Call, deadline: float) -> httpx.Response:
        read = call.operation != "write"
        attempt = 1
        while True:
            failed: _Failed | None = None
            retry_after: float | None = None
            try:
                response = await self._attempt(call, attempt, deadline)
            except _Failed as exc:
                if not read or not isinstance(exc.failure, NotConnected):
                    raise
                failed, reason = exc, "connect-error"
            else:
                if not read or response.status_code not in RETRYABLE_STATUSES:
                    return response
                reason = str(response.status_code)
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            delay = self._retry_delay(call, attempt, retry_after, deadline, reason)
            if delay is not None:
                await self._sleep(delay)
                if self.breaker.state is CircuitState.OPEN:  # other calls opened it meanwhile
                    metrics().upstream_retries_skipped.labels(self.source, "circuit").inc()
                    delay = None
            if delay is None:
                if failed is not None:
                    raise failed
                return response
            attempt += 1

    def _retry_delay(
        self, call: Call, attempt: int, retry_after: float | None, deadline: float, reason: str
    ) -> float | None:
        """Seconds to wait before the next attempt, or None when this failure is final."""
        if attempt > self.policy.retries:
            return None
        delay = self.policy.delay(attempt, retry_after, self._rand)
        skipped = None
        if self._clock() + delay >= deadline:
            skipped = "deadline"  # sleeping would only end in a timeout
        elif not self.breaker.allows():
            skipped = "circuit"
        elif not self.budget.try_spend():
            skipped = "budget"
        event = {"source": self.source, "method": call.method, "path": call.path, "reason": reason}
        if skipped is not None:
            metrics().upstream_retries_skipped.labels(self.source, skipped).inc()
            log.info("upstream retry skipped", extra={**event, "skipped": skipped})
            return None
        metrics().upstream_retries.labels(self.source, reason).inc()
        extra = {**event, "attempt": attempt + 1, "delay_s": round(delay, 3)}
        log.info("upstream retry", extra={**extra, "retry_after_s": retry_after})
        return delay

    async def _attempt(self, call: Call, attempt: int, deadline: float) -> httpx.Response:
        """One delivery: through a concurrency slot and a timeout."""
        started = time.perf_counter()
        status: int | str = "deadline"
        span = None
        if traced():  # off: not even the route template is worked out
            span = call_span(
                self.source,
                call.method,
                self.routes(call.path),
                operation=call.operation,
                attempt=attempt,
                renewed=call.renewed,
                server=self.client.base_url.host,
            )
            if span is not None:  # the upstream hears of the trace: traceparent
                call = replace(call, headers=span.headers(call.headers))
        try:
            if deadline <= self._clock():
                message = f"Source '{self.source}' was not called: the request's deadline passed."
                raise _Failed("deadline", _fail(ErrorCode.UPSTREAM_TIMEOUT, message))
            status = "no-slot"
            await self._take_slot(deadline)
            try:
                limit = self._limit(call, deadline)
                status = "cancelled"
                response = await self._deliver(call, limit)
            finally:
                self._slots.release()
            status = response.status_code
            return response
        except _Failed as exc:
            status = exc.status
            raise
        finally:
            self._observe(call, status, attempt, time.perf_counter() - started)
            if span is not None:
                span.finish(status)

    async def _take_slot(self, deadline: float) -> None:
        """Wait for a concurrency slot, but not past the request's deadline."""
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once, no timer needed
            return
        wait = max(deadline - self._clock(), 0.0)
        try:
            async with asyncio.timeout(wait):
                await self._slots.acquire()
        except TimeoutError:
            message = (
                f"Source '{self.source}' is busy: no free slot among its "
                f"{self.max_concurrency} concurrent calls within {wait:.3g} s."
            )
            raise _Failed("no-slot", _fail(ErrorCode.UPSTREAM_TIMEOUT, message)) from None

    def _limit(self, call: Call, deadline: float) -> float:
        """How long this attempt may wait for its answer: the source's timeout, but a read no
        longer than the request has left, and a write no longer than leaves time to read the
        job back (``write_deadline_var``). A write with too little time left is not sent."""
        now = self._clock()
        if call.operation != "write":
            return max(min(self.timeout, deadline - now), 0.001)
        until = write_deadline_var.get()
        if until is None:
            return self.timeout
        left = until - now
        if left < MIN_WRITE_WINDOW:
            message = (
                f"Source '{self.source}' was not sent the change: too little of the request's "
                "time is left to send it and read the job back."
            )
            raise _Failed("deadline", _fail(ErrorCode.UPSTREAM_TIMEOUT, message))
        return min(self.timeout, left)

    async def _deliver(self, call: Call, limit: float) -> httpx.Response:
        # The timeout also bounds in-process transports, which ignore httpx timeouts. Most
        # attempts get the source's whole timeout: those share one loop timer (~28,000 CPU
        # instructions a call less than asyncio.timeout's, bench.instructions).
        timeout: AbstractAsyncContextManager[Any] = (
            self._whole_timeout.timeout() if limit >= self.timeout else asyncio.timeout(limit)
        )
        try:
            async with timeout:
                return await self.client.dispatch(
                    call.method,
                    self._url(call.path),
                    params=call.params,
                    content=call.content,
                    headers=call.headers,
                )
        except AnswerTooLarge as exc:
            what = f"answered with more than {exc.limit} bytes (not read: the answer is too large)"
            if call.operation == "write":
                raise _Failed("too-large", self._lost(call, what, None)) from None
            message = f"Source '{self.source}' {what}."
            raise _Failed("too-large", _fail(ErrorCode.UPSTREAM_UNAVAILABLE, message)) from None
        except httpx.ConnectTimeout:
            message = f"Source '{self.source}' could not be connected to in time."
            failure = NotConnected(JobError(ErrorCode.UPSTREAM_TIMEOUT, message))
            raise _Failed("connect-timeout", failure) from None
        except _UNCERTAIN:
            what = f"did not answer within {limit:.3g} s"
            raise _Failed("timeout", self._lost(call, what, None)) from None
        except httpx.ConnectError as exc:
            message = f"Source '{self.source}' could not be reached: {describe(exc)}"
            failure = NotConnected(JobError(ErrorCode.UPSTREAM_UNAVAILABLE, message))
            raise _Failed("connect-error", failure) from None
        except httpx.HTTPError as exc:
            raise _Failed(
                "transport-error", self._lost(call, "dropped the connection", exc)
            ) from None

    def _lost(self, call: Call, what: str, dropped: Exception | None) -> JobFailure:
        """The error for an attempt that was (or may have been) sent and got no answer."""
        if call.operation == "write":
            return WriteUncertain(
                JobError(
                    ErrorCode.OUTCOME_UNKNOWN,
                    f"Source '{self.source}' {what} after the change was sent; "
                    "it may or may not have been applied.",
                )
            )
        if dropped is None:
            return _fail(ErrorCode.UPSTREAM_TIMEOUT, f"Source '{self.source}' {what}.")
        message = f"Source '{self.source}' {what}: {describe(dropped)}."
        return _fail(ErrorCode.UPSTREAM_UNAVAILABLE, message)

    def _observe(self, call: Call, status: int | str, attempt: int, took: float) -> None:
        note_attempt(self.source, call.method, call.path, status)
        found = metrics()
        labelled(found.upstream_calls, self.source, call.operation, call.method, str(status)).inc()
        if status not in _NOT_SENT:
            labelled(found.upstream_duration, self.source, call.operation).observe(took)
        if not log.isEnabledFor(logging.INFO):
            return  # the line's fields cost more to gather than the call's metrics
        log.info(
            "upstream call",
            extra={
                "source": self.source,
                "operation": call.operation,
                "method": call.method,
                "path": call.path,
                "status": status,
                "attempt": attempt,
                "duration_ms": round(took * 1000, 2),
            },
        )

    def _circuit_moved(self, before: CircuitState, to: CircuitState, failures: int) -> None:
        metrics().circuit_state.labels(self.source).set(to.level)
        metrics().circuit_transitions.labels(self.source, to.value).inc()
        extra: dict[str, Any] = {"source": self.source, "from": before.value, "to": to.value}
        if to is CircuitState.OPEN:
            extra.update(failures=failures, cooldown_s=self.breaker.cooldown)
        level = logging.WARNING if to is CircuitState.OPEN else logging.INFO
        log.log(level, f"circuit {to.value}", extra=extra)
