"""One bench session: its processes, its load generator, and the figures it has gathered."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import cpu, loadgen, wrk
from bench.loadgen import Target
from bench.peers import PeerTable
from bench.procs import Process, RssSampler, free_port, python_module
from bench.profile import Profile
from bench.queries import answer_problem
from bench.stats import RssSeries, RunResult
from bench.upstreams import Upstream

BUSY_CORES = 0.25  # other load (in cores) above which a run counts as disturbed


@dataclass
class ExactCalls:
    """Upstream calls for one query sent alone, ``n`` times in a row: exact, not sampled."""

    query: str
    expected: int
    measured: float | None  # calls per query (None: the upstream cannot count)
    problem: str | None = None
    by_source: dict[str, float] = field(default_factory=dict)
    expected_by_source: dict[str, int] = field(default_factory=dict)


@dataclass
class Findings:
    mode: str
    started: str = ""  # when the run began, local time
    command: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    upstreams: list[str] = field(default_factory=list)
    runs: list[RunResult] = field(default_factory=list)
    exact: list[ExactCalls] = field(default_factory=list)
    soak: RssSeries | None = None
    soak_run: RunResult | None = None
    profiles: list[Profile] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rss_max_mb: float = 0.0
    peers: PeerTable | None = None  # other gateways' figures, from a bench-peers table

    def find(self, group: str, name: str, connections: int | None = None) -> RunResult | None:
        for run in self.runs:
            if run.group == group and run.name == name:
                if connections is None or run.connections == connections:
                    return run
        return None


@dataclass
class Gateway:
    process: Process
    port: int
    workers: int
    label: str
    sampler: RssSampler

    def target(self, body: bytes | Sequence[bytes], *, once: bool = False) -> Target:
        bodies = (body,) if isinstance(body, bytes) else tuple(body)
        return Target(port=self.port, path="/graphql", bodies=bodies, once=once)

    def stop(self) -> None:
        self.sampler.__exit__(None, None, None)
        self.process.stop()


@dataclass
class Session:
    work: Path
    duration_s: float
    warmup_s: float
    use_wrk: bool
    gateway_cores: list[int] | None
    other_cores: list[int] | None
    log_level: str
    findings: Findings
    quiet_wait_s: float = 0.0  # before each run, wait this long at most for other load to stop
    busy_retries: int = 0  # runs again when other load was at least BUSY_CORES
    processes: list[Process] = field(default_factory=list)

    # -- processes ---------------------------------------------------------------------------

    def start_gateway(
        self,
        upstream: Upstream,
        *,
        label: str = "gateway",
        workers: int = 1,
        variant: Sequence[str] | None = None,
        source_options: Mapping[str, Any] | None = None,
        server_options: Mapping[str, Any] | None = None,
        pinned: bool = True,
        log_level: str | None = None,
    ) -> Gateway:
        """``jobgate serve`` (or a lever variant) as a real process, and an RSS sampler on it."""
        port = free_port()
        config = self.work / f"gateway-{port}.toml"
        config.write_text(
            upstream.config_toml(source_options=source_options, server_options=server_options)
        )
        level = log_level or self.log_level
        if variant is not None:  # bench.gateway_variant, with these arguments
            args = python_module(
                "bench.gateway_variant", "--config", str(config), "--port", str(port),
                "--log-level", level, *variant,
            )  # fmt: skip
        else:
            args = python_module(
                "jobgate.cli", "serve", "--config", str(config), "--port", str(port),
                "--workers", str(workers), "--log-level", level,
            )  # fmt: skip
        process = Process(
            label.replace(" ", "-"), args, self.work, cores=self.gateway_cores if pinned else None
        )
        self.processes.append(process)
        process.wait_until_up(f"http://127.0.0.1:{port}/healthz")
        if workers > 1:
            self._wait_for_workers(process, workers)
        sampler = RssSampler(process.pid).__enter__()
        return Gateway(process, port, workers, label, sampler)

    def _wait_for_workers(self, process: Process, workers: int) -> None:
        from bench.procs import worker_pids

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(worker_pids(process.pid)) < workers:
            time.sleep(0.2)
        time.sleep(1.0)  # let every worker finish its lifespan start-up

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    # -- load --------------------------------------------------------------------------------

    def load(
        self,
        name: str,
        target: Target,
        connections: int,
        duration_s: float,
        *,
        max_requests: int | None = None,
        pinned: bool = True,
        drain: bool = False,
    ) -> RunResult:
        """wrk if installed, else (or to ``drain``) the asyncio generator, which lets every
        request it sent finish, so that the upstream calls it caused can be counted exactly."""
        if self.use_wrk and not target.once and max_requests is None and not drain:
            cores = self.other_cores if pinned else None
            return wrk.run(
                name, target, connections=connections, duration_s=duration_s, cores=cores
            )
        return loadgen.run(
            name, target, connections=connections, duration_s=duration_s, max_requests=max_requests
        )

    def measure(
        self,
        group: str,
        name: str,
        target: Target,
        connections: int,
        *,
        upstream: Upstream,
        gateway: Gateway | None = None,
        duration_s: float | None = None,
        warmup: bool = True,
        max_requests: int | None = None,
        pinned: bool = True,
        drain: bool = False,
    ) -> RunResult:
        """A warm-up (discarded), then the measured run with upstream calls and RSS counted.

        When other processes were busy during the run (a shared machine), it is run again, up
        to ``busy_retries`` times, and the least disturbed attempt is kept.
        """
        duration = duration_s or self.duration_s
        if self.quiet_wait_s > 0:
            cpu.wait_for_quiet(self.quiet_wait_s)
        if warmup and self.warmup_s > 0 and not target.once:
            self.load(name, target, connections, self.warmup_s, pinned=pinned, drain=drain)
        series = gateway.sampler.mark(f"{group}/{name}/c{connections}") if gateway else None
        attempts = 1 if target.once or not warmup else 1 + self.busy_retries
        kept: RunResult | None = None
        for attempt in range(attempts):
            if attempt:
                print(f"  (other load {_cores(kept.foreign_cores if kept else None)} cores: "
                      "running it again)", flush=True)  # fmt: skip
            result = self._run_once(
                name, target, connections, duration, upstream, gateway, max_requests, pinned, drain
            )
            if kept is None or (result.foreign_cores or 0) < (kept.foreign_cores or 0):
                kept = result
            if (kept.foreign_cores or 0) < BUSY_CORES:
                break
        assert kept is not None
        kept.group = group
        if series is not None and series.samples:
            kept.rss_max_mb = series.max_mb
        self.findings.runs.append(kept)
        print(format_row(kept), flush=True)
        return kept

    def _run_once(
        self,
        name: str,
        target: Target,
        connections: int,
        duration: float,
        upstream: Upstream,
        gateway: Gateway | None,
        max_requests: int | None,
        pinned: bool,
        drain: bool,
    ) -> RunResult:
        before = settled_count(upstream)
        cpu_before = cpu.snapshot(gateway.process.pid if gateway else None)
        result = self.load(
            name, target, connections, duration, max_requests=max_requests, pinned=pinned,
            drain=drain,
        )  # fmt: skip
        usage = cpu.usage(cpu_before, cpu.snapshot(gateway.process.pid if gateway else None))
        # wrk drops the requests in flight when it stops; the gateway still makes their calls.
        after = settled_count(upstream)
        if usage is not None:
            result.foreign_cores = usage.foreign_cores
            result.gateway_cores = usage.gateway_cores if gateway else None
            result.worker_cores = usage.worker_cores if gateway else []
        if before is not None and after is not None:
            result.upstream_calls = after - before
        return result

    def exact_calls(
        self,
        gateway: Gateway,
        upstream: Upstream,
        query_name: str,
        body: bytes,
        expected: int,
        *,
        expect_jobs: int | None = None,
        times: int = 5,
        expected_by_source: dict[str, int] | None = None,
    ) -> ExactCalls:
        """Send ``body`` ``times`` times, one after the other, and count upstream calls."""
        problem: str | None = None
        url = f"http://127.0.0.1:{gateway.port}/graphql"
        headers = {"Content-Type": "application/json"}
        with httpx.Client(timeout=30) as client:
            client.post(url, content=body, headers=headers)  # any first-use work (tokens)
            time.sleep(0.1)
            before = upstream.count()
            sources_before = upstream.count_by_source() if upstream.count_by_source else {}
            for _ in range(times):
                answer = client.post(url, content=body, headers=headers)
                if answer.status_code != 200:
                    problem = problem or f"HTTP {answer.status_code}: {answer.text[:200]}"
                else:
                    problem = problem or answer_problem(answer.content, expect_jobs=expect_jobs)
            time.sleep(0.1)
            after = upstream.count()
            sources_after = upstream.count_by_source() if upstream.count_by_source else {}
        measured = None if before is None or after is None else (after - before) / times
        by_source = {
            s: (n - sources_before.get(s, 0)) / times
            for s, n in sources_after.items()
            if n != sources_before.get(s, 0)
        }
        found = ExactCalls(
            query_name, expected, measured, problem, by_source, expected_by_source or {}
        )
        self.findings.exact.append(found)
        shown = "n/a" if measured is None else f"{measured:g}"
        if by_source:
            shown += " (" + ", ".join(f"{s} {n:g}" for s, n in sorted(by_source.items())) + ")"
        print(f"  upstream calls per {query_name}: {shown} (distinct ids: {expected})"
              + (f"  PROBLEM: {problem}" if problem else ""), flush=True)  # fmt: skip
        return found


def settled_count(upstream: Upstream, limit_s: float = 5.0) -> int | None:
    """The upstream's request count once calls still in flight have landed."""
    count = upstream.count()
    deadline = time.monotonic() + limit_s
    while count is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        again = upstream.count()
        if again == count:
            break
        count = again
    return count


def _ms(value: float) -> str:
    return f"{value:.2f}"


def format_row(run: RunResult) -> str:
    calls = run.calls_per_request
    return (
        f"  {run.group:<24} {run.name:<10} c={run.connections:<3} {run.rps:>9.0f} req/s  "
        f"p50 {_ms(run.p50_ms):>7} ms  p99 {_ms(run.p99_ms):>7} ms  errors {run.errors:<4} "
        f"upstream/req {'n/a' if calls is None else f'{calls:.2f}':>5}  "
        f"RSS {'n/a' if run.rss_max_mb is None else f'{run.rss_max_mb:.0f} MB'}  "
        f"gw CPU {_cores(run.gateway_cores)}{split_cores(run.worker_cores)}  "
        f"other load {_cores(run.foreign_cores)}"
    )


def split_cores(worker_cores: list[float]) -> str:
    return f" ({' + '.join(f'{w:.2f}' for w in worker_cores)})" if worker_cores else ""


def _cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"
