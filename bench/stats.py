"""Latency percentiles and the summary of one load run, whichever load generator produced it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for an empty sequence)."""
    if not sorted_values:
        return 0.0
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


@dataclass
class RunResult:
    """One measured load run. Latencies are in milliseconds."""

    name: str
    connections: int
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int = 0  # transport errors, timeouts, non-2xx and GraphQL errors, added up
    error_detail: dict[str, int] = field(default_factory=dict)
    tool: str = "asyncio"
    upstream_calls: int | None = None  # counted at the upstream during the measured run
    rss_max_mb: float | None = None
    group: str = ""  # which set-up: "direct", "gateway", a lever, "workers=2", …
    abandoned: int = 0  # requests in flight when the generator stopped (wrk drops them)
    gateway_cores: float | None = None  # the gateway's CPU use during the run, in cores
    foreign_cores: float | None = None  # CPU use outside the bench during the run, in cores
    worker_cores: list[float] = field(default_factory=list)  # per worker, with --workers N

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def rps_per_gateway_core(self) -> float | None:
        """Requests per CPU-second of the gateway: its capacity on a core of its own."""
        if not self.gateway_cores:
            return None
        return self.rps / self.gateway_cores

    @property
    def calls_per_request(self) -> float | None:
        # The gateway still serves requests the load generator abandoned: their calls count.
        served = self.requests + self.abandoned
        if self.upstream_calls is None or served == 0:
            return None
        return self.upstream_calls / served


def summarize(
    name: str,
    connections: int,
    latencies_ms: Sequence[float],
    duration_s: float,
    error_detail: dict[str, int],
    *,
    tool: str = "asyncio",
) -> RunResult:
    """A RunResult from raw per-request latencies (successful and failed requests alike)."""
    ordered = sorted(latencies_ms)
    return RunResult(
        name=name,
        connections=connections,
        requests=len(ordered),
        duration_s=duration_s,
        p50_ms=percentile(ordered, 50),
        p90_ms=percentile(ordered, 90),
        p99_ms=percentile(ordered, 99),
        max_ms=ordered[-1] if ordered else 0.0,
        errors=sum(error_detail.values()),
        error_detail={k: v for k, v in error_detail.items() if v},
        tool=tool,
    )


@dataclass
class RssSeries:
    """Resident memory samples of the gateway's worker processes: (seconds, MB of the largest)."""

    samples: list[tuple[float, float]] = field(default_factory=list)

    def add(self, at_s: float, mb: float) -> None:
        self.samples.append((at_s, mb))

    @property
    def max_mb(self) -> float:
        return max((mb for _, mb in self.samples), default=0.0)

    def growth_mb(self) -> float:
        """Mean of the last quarter of samples minus the mean of the first quarter."""
        if len(self.samples) < 4:
            return 0.0
        quarter = len(self.samples) // 4
        first = [mb for _, mb in self.samples[:quarter]]
        last = [mb for _, mb in self.samples[-quarter:]]
        return sum(last) / len(last) - sum(first) / len(first)

    def is_flat(self, tolerance_mb: float = 5.0, tolerance_ratio: float = 0.05) -> bool:
        """Flat: the last quarter is within max(5 MB, 5 %) of the first."""
        if not self.samples:
            return False
        first_mb = self.samples[0][1]
        return self.growth_mb() <= max(tolerance_mb, tolerance_ratio * first_mb)
