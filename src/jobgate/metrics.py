"""The gateway's Prometheus metrics, and their exposition for ``GET /metrics``.

One set per process, created on first use. With ``jobgate serve --workers N`` (N > 1) the command
sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start; prometheus_client then keeps each
worker's values in files there and a scrape, whichever worker answers it, sums them all. Without
that, each scrape would see one random worker's counters and they would appear to jump and reset.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from jobgate.redaction import secrets

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200)

# Operation names come from clients: keep the label set small whatever they send.
_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 200


@dataclass(frozen=True)
class Metrics:
    """Every metric, declared with its help text; ``Metrics()`` registers them (once: see
    ``metrics()``, a second set would clash in the registry)."""

    graphql_requests: Counter = field(
        default_factory=lambda: Counter(
            "jobgate_graphql_requests",
            "GraphQL requests by operation name, operation type and outcome (ok or error).",
            ["operation", "type", "outcome"],
        )
    )
    graphql_errors: Counter = field(
        default_factory=lambda: Counter(
            "jobgate_graphql_errors",
            "Error codes answered to GraphQL requests (GraphQL errors and payload errors).",
            ["operation", "code"],
        )
    )
    graphql_duration: Histogram = field(
        default_factory=lambda: Histogram(
            "jobgate_graphql_request_duration_seconds",
            "Time to answer a GraphQL request.",
            ["type"],
            buckets=LATENCY_BUCKETS,
        )
    )
    upstream_calls: Counter = field(
        default_factory=lambda: Counter(
            "jobgate_upstream_requests",
            "Upstream call attempts by source, operation (read, search, write), method and "
            "status: the HTTP status, or timeout, connect-error, transport-error, auth-error, "
            "no-slot, circuit-open.",
            ["source", "operation", "method", "status"],
        )
    )
    upstream_duration: Histogram = field(
        default_factory=lambda: Histogram(
            "jobgate_upstream_request_duration_seconds",
            "Latency of upstream call attempts that were sent.",
            ["source", "operation"],
            buckets=LATENCY_BUCKETS,
        )
    )
    upstream_retries: Counter = field(
        default_factory=lambda: Counter(
            "jobgate_upstream_retries",
            "Reads retried, by source and reason (HTTP status or connect-error).",
            ["source", "reason"],
        )
    )
    upstream_retries_skipped: Counter = field(
        default_factory=lambda: Counter(
            "jobgate_upstream_retries_skipped",
            "Retryable failures not retried, by reason: budget, deadline or circuit.",
            ["source", "reason"],
        )
    )
    upstream_reads_coalesced: Counter = field(
        default_factory=lambda: Counter(
            "jobgate_upstream_reads_coalesced",
            "Job reads answered by another request's read of the same job then in flight, "
            "instead of an upstream call of their own.",
            ["source"],
        )
    )
    circuit_state: Gauge = field(
        default_factory=lambda: Gauge(
            "jobgate_upstream_circuit_state",
            "Circuit breaker per source: 0 closed, 1 half-open, 2 open (worst live worker).",
            ["source"],
            multiprocess_mode="livemax",
        )
    )
    circuit_transitions: Counter = field(
        default_factory=lambda: Counter(
            "jobgate_upstream_circuit_transitions",
            "Circuit breaker state changes by source and new state.",
            ["source", "state"],
        )
    )
    dataloader_batch_size: Histogram = field(
        default_factory=lambda: Histogram(
            "jobgate_dataloader_batch_size",
            "Job ids per DataLoader batch (one batch per request tick).",
            buckets=BATCH_BUCKETS,
        )
    )
    operation_names: set[str] = field(default_factory=set)

    def operation_label(self, name: str | None) -> str:
        """The operation's name as a label: 'anonymous', or 'other' past the first few hundred."""
        if not name:
            return "anonymous"
        if name in self.operation_names:
            return name
        if (
            not _OPERATION_NAME.fullmatch(name)
            or len(self.operation_names) >= MAX_OPERATION_NAMES
            or secrets().found_in(name)
        ):
            return "other"
        self.operation_names.add(name)
        return name


@functools.cache
def metrics() -> Metrics:
    """This process's metrics, registered with prometheus_client's default registry."""
    return Metrics()


Labelled = TypeVar("Labelled", Counter, Gauge, Histogram)
# (metric, label values) -> that series' child. Nothing removes a series from our metrics, so a
# child once made stays the one prometheus_client exports (per process, multiprocess mode too).
_children: dict[tuple[object, tuple[str, ...]], Any] = {}


def labelled(metric: Labelled, *values: str) -> Labelled:
    """``metric.labels(*values)``, remembered: labels() validates and locks on every call
    (~0.7 µs), this is one dict lookup. For the per-request hot paths."""
    key = (metric, values)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*values)
    return cast(Labelled, child)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def exposition() -> bytes:
    """Every metric in the Prometheus text format, summed over workers in multiprocess mode."""
    metrics()  # a scrape before any traffic still lists every series family
    if not multiprocess_mode():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def worker_exiting() -> None:
    """Drop this worker's live gauges so a stopped worker's circuit state is not reported."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
