"""The bench's phases: direct baseline, the gateway's queries, levers, workers, simulators, soak."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import live, profile, queries
from bench.loadgen import Target
from bench.session import Gateway, Session
from bench.stats import RssSeries
from bench.upstreams import Upstream


@dataclass(frozen=True)
class Lever:
    """The shipped gateway with one lever changed, back (what the shipped gateway already does)
    or forward (what it could do and does not)."""

    label: str
    args: Sequence[str] = ()  # bench.gateway_variant arguments
    source_options: Mapping[str, Any] = field(default_factory=dict)  # set on every source
    server_options: Mapping[str, Any] = field(default_factory=dict)  # set in [server]
    log_level: str | None = None
    hot: bool = False  # also measure the hot queries (every request asks for the same ids)


LEVERS: tuple[Lever, ...] = (
    Lever("control: no change (the variant launcher itself)", hot=True),
    Lever("back: no read coalescing (coalesce_reads = false)", hot=True,
          source_options={"coalesce_reads": False}),
    Lever("back: asyncio loop + h11 (no uvloop/httptools)", ("--loop", "asyncio", "--http", "h11")),
    Lever("back: httpx's own pool (no aiohttp transport)", ("--transport", "httpx")),
    Lever('back: plain reads through aiohttp too (read_client = "aiohttp")',
          source_options={"read_client": "aiohttp"}),
    Lever("back: the libraries' own resolvers and executor (fast_paths = false)",
          server_options={"fast_paths": False}),
    Lever("back: no document cache (document_cache = false)",
          server_options={"document_cache": False}),
    Lever("back: default GC (no gc.freeze, gen-0 threshold 700)", ("--gc", "default")),
    Lever("max_concurrency 4 per source (shipped: 16)", source_options={"max_concurrency": 4}),
    Lever("max_concurrency 64 per source (shipped: 16)", source_options={"max_concurrency": 64}),
    Lever("log level info (shipped bench runs: warning)", log_level="info"),
)  # fmt: skip

# Every in-flight request asks for other ids than the others (no read can be coalesced).
COLD_IDS = 2000


def direct_target(upstream: Upstream) -> Target | None:
    if not upstream.direct_path:
        return None
    return Target(
        port=upstream.port,
        path=upstream.direct_path,
        method="GET",
        headers=upstream.direct_headers,
        check_graphql=False,
    )


def first_ids(upstream: Upstream, n: int) -> list[str]:
    """``n`` distinct ids of the upstream's first source."""
    return next(iter(upstream.job_ids.values()))[:n]


def spread_ids(upstream: Upstream, n: int) -> list[str]:
    """``n`` distinct ids taken in turn from every source that has some."""
    spread = [i for i in itertools.chain(*itertools.zip_longest(*upstream.job_ids.values())) if i]
    return spread[:n]


def baseline(session: Session, upstream: Upstream, connections: Sequence[int]) -> None:
    target = direct_target(upstream)
    if target is None:
        session.findings.notes.append(f"No direct GET baseline for the {upstream.kind} upstream.")
        return
    for conns in connections:
        session.measure(
            f"direct GET ({upstream.kind})", "GET job", target, conns, upstream=upstream
        )


def query_bodies(upstream: Upstream) -> dict[str, list[bytes]]:
    """Q0, Q1 and Q20 as the issue runs them (every request the same ids: *hot*), and *cold*
    Q1 and Q20 that rotate over many ids, so that no two requests in flight share an id. The
    cold ones send their ids in variables, as clients do: one document, parsed once."""
    ids = first_ids(upstream, COLD_IDS)
    windows = [ids[k : k + 20] for k in range(0, len(ids) - 19, 20)]
    return {
        "Q0": [queries.body(queries.q0())],
        "Q1": [queries.body(queries.q_job(ids[0]))],
        "Q20": [queries.body(queries.q_aliased(ids[:20]))],
        "Q1 cold": [queries.body(*queries.q_job_variables(i)) for i in ids],
        "Q20 cold": [queries.body(*queries.q_aliased_variables(w)) for w in windows],
        # Cold with the ids written into the document, as GraphiQL users and many frontends
        # send them (bench-peers' Q1c/Q20c): every document is new.
        "Q1 cold literal": [queries.body(queries.q_job(i)) for i in ids],
        "Q20 cold literal": [queries.body(queries.q_aliased(w)) for w in windows],
    }


def gateway_queries(session: Session, upstream: Upstream, *, profile_s: float = 0.0) -> None:
    """Q0, Q1, Q20 (hot and cold) at 32 connections; Q1 at 1, 8 and 64; exact upstream calls
    per query."""
    bodies = query_bodies(upstream)
    gateway = session.start_gateway(upstream, label="gateway")
    try:
        session.exact_calls(gateway, upstream, "Q0", bodies["Q0"][0], 0)
        session.exact_calls(gateway, upstream, "Q1", bodies["Q1"][0], 1, expect_jobs=1)
        session.exact_calls(gateway, upstream, "Q20", bodies["Q20"][0], 20, expect_jobs=20)
        runs = (("Q0", 32), ("Q1", 32), ("Q20", 32), ("Q1 cold", 32), ("Q20 cold", 32),
                ("Q1 cold literal", 32), ("Q20 cold literal", 32),
                ("Q1", 1), ("Q1", 8), ("Q1", 64), ("Q1 cold", 8), ("Q1 cold", 64))  # fmt: skip
        for name, conns in runs:
            session.measure(
                "gateway", name, gateway.target(bodies[name]), conns, upstream=upstream,
                gateway=gateway,
            )  # fmt: skip
        if profile_s > 0:
            for name in ("Q1 cold", "Q20 cold"):
                profile_under_load(session, gateway, name, gateway.target(bodies[name]), profile_s)
        session.findings.rss_max_mb = max(session.findings.rss_max_mb, gateway.sampler.max_mb)
    finally:
        gateway.stop()


def profile_under_load(
    session: Session, gateway: Gateway, name: str, target: Target, duration_s: float
) -> None:
    out = session.work / f"profile-{name}.txt"
    recorder = profile.start_recording(
        gateway.process.pid, duration_s, out, session.other_cores, subprocesses=gateway.workers > 1
    )
    time.sleep(0.5)
    session.load(name, target, 32, duration_s + 1)
    _, err = recorder.communicate(timeout=duration_s + 60)
    if not out.exists():
        session.findings.notes.append(f"py-spy could not profile {name}: {err.decode()[-300:]}")
        return
    found = profile.summarize(f"{name} at 32 connections", out.read_text())
    session.findings.profiles.append(found)
    top = ", ".join(
        f"{label} {found.share(n):.0f}%" for label, n in found.self_by_category.most_common(4)
    )
    print(f"  profile {name}: {found.samples} samples; {top}", flush=True)


def levers(session: Session, upstream: Upstream) -> None:
    """Cold Q1 and Q20 at 32 connections with one lever changed at a time (and hot ones where
    the lever is about requests sharing ids)."""
    bodies = query_bodies(upstream)
    for lever in LEVERS:
        gateway = session.start_gateway(
            upstream, label=lever.label, variant=lever.args,
            source_options=lever.source_options, server_options=lever.server_options,
            log_level=lever.log_level,
        )  # fmt: skip
        names = ["Q1 cold", "Q20 cold"] + (["Q1", "Q20"] if lever.hot else [])
        try:
            for name in names:
                session.measure(
                    lever.label, name, gateway.target(bodies[name]), 32, upstream=upstream,
                    gateway=gateway,
                )  # fmt: skip
        finally:
            gateway.stop()


def workers(session: Session, upstream: Upstream) -> None:
    """One worker and ``--workers 2``, each free to use both cores, at 64 connections."""
    ids = first_ids(upstream, 20)
    bodies: dict[str, bytes | list[bytes]] = {
        "Q0": queries.body(queries.q0()),
        "Q1": queries.body(queries.q_job(ids[0])),
        "Q1 cold": query_bodies(upstream)["Q1 cold"],
    }
    for count in (1, 2):
        group = f"workers={count}, 2 cores"
        gateway = session.start_gateway(upstream, label=group, workers=count, pinned=False)
        try:
            for name, body in bodies.items():
                session.measure(
                    group, name, gateway.target(body), 64, upstream=upstream, gateway=gateway,
                    pinned=False,
                )  # fmt: skip
            session.findings.rss_max_mb = max(session.findings.rss_max_mb, gateway.sampler.max_mb)
        finally:
            gateway.stop()


def simulators(session: Session, upstream: Upstream, *, mutations: int) -> None:
    """Over every simulator: Q1, ``jobs(ids:)`` over 50 ids from all sources, a mutation cycle."""
    target = direct_target(upstream)
    if target is not None:
        session.measure("direct GET (sim)", "GET job", target, 32, upstream=upstream)
    ids50 = spread_ids(upstream, 50)
    sources = sorted({i.partition(":")[0] for i in ids50})
    session.findings.notes.append(
        f"jobs(ids:) over {len(ids50)} ids from {len(sources)} sources: {', '.join(sources)}."
    )
    gateway = session.start_gateway(upstream, label="gateway (sim)")
    try:
        q1 = queries.body(queries.q_job(ids50[0]))
        jobs50 = queries.body(queries.q_jobs(ids50))
        per_source = Counter(i.partition(":")[0] for i in ids50)
        session.exact_calls(
            gateway, upstream, "jobs50", jobs50, len(ids50), expect_jobs=len(ids50),
            expected_by_source=dict(per_source),
        )  # fmt: skip
        session.measure(
            "gateway (sim)", "Q1", gateway.target(q1), 32, upstream=upstream, gateway=gateway
        )
        session.measure(
            "gateway (sim)",
            "jobs50",
            gateway.target(jobs50),
            16,
            upstream=upstream,
            gateway=gateway,
        )
        listing(session, upstream, gateway, sources)
        mutation_cycle(session, upstream, gateway, mutations)
        session.findings.rss_max_mb = max(session.findings.rss_max_mb, gateway.sampler.max_mb)
    finally:
        gateway.stop()
    live.subscriptions(session, upstream, hold_s=max(5.0, session.duration_s))


# The list calls a 20-job searchJobs page needs from each vendor's paging: one list call, but
# Workflow Manager's search answers only ids, so its twenty jobs are read as job() reads them.
SEARCH_CALLS = {"data-cloud": 1, "content-hub": 1, "bigchange": 1, "workflow-manager": 21}


def listing(session: Session, upstream: Upstream, gateway: Gateway, sources: list[str]) -> None:
    """searchJobs: a 20-job page of each source alone, and 100 jobs across the sources."""
    for source in sources:
        query, variables = queries.q_search([source], 20)
        page = queries.body(query, variables)
        expected = SEARCH_CALLS.get(upstream.providers.get(source, ""), 1)
        session.exact_calls(
            gateway, upstream, f"search20 {source}", page, expected, expect_jobs=20,
            expected_by_source={source: expected},
        )  # fmt: skip
        session.measure(
            "gateway (sim)", f"search20 {source}", gateway.target(page), 16,
            upstream=upstream, gateway=gateway,
        )  # fmt: skip
    query, variables = queries.q_search(None, 100)
    across = queries.body(query, variables)
    session.measure(
        "gateway (sim)", "search100 all", gateway.target(across), 8, upstream=upstream,
        gateway=gateway,
    )  # fmt: skip


def mutation_cycle(session: Session, upstream: Upstream, gateway: Gateway, count: int) -> None:
    """closeJob and abortJob in turn, each on a Data Cloud job made Open for it."""
    source = next((s for s, p in upstream.providers.items() if p == "data-cloud"), None)
    if source is None or upstream.make_jobs is None:
        session.findings.notes.append("No Data Cloud source: the mutation cycle was skipped.")
        return
    fresh = upstream.make_jobs(source, "Open", count)
    bodies = [
        queries.body(queries.mutation("closeJob" if n % 2 == 0 else "abortJob", job_id))
        for n, job_id in enumerate(fresh)
    ]
    session.measure(
        "gateway (sim)", "mutations", gateway.target(bodies, once=True), 8, upstream=upstream,
        gateway=gateway, duration_s=max(session.duration_s, 60.0), max_requests=len(bodies),
    )  # fmt: skip


def soak(session: Session, upstream: Upstream, duration_s: float) -> None:
    """A mix of Q0, Q1 over 100 ids and Q20 windows at 32 connections; RSS every second."""
    ids = first_ids(upstream, 120)
    bodies = [queries.body(queries.q0())]
    bodies += [queries.body(queries.q_job(i)) for i in ids[:100]]
    bodies += [queries.body(queries.q_aliased(ids[k : k + 20])) for k in range(0, 100, 20)]
    gateway = session.start_gateway(upstream, label="soak")
    gateway.sampler.interval_s = 1.0
    try:
        run = session.measure(
            "soak", "mix", gateway.target(bodies), 32, upstream=upstream, gateway=gateway,
            duration_s=duration_s, warmup=False,
        )  # fmt: skip
        session.findings.soak_run = run
        session.findings.soak = gateway.sampler.series.get("soak/mix/c32", RssSeries())
        session.findings.rss_max_mb = max(session.findings.rss_max_mb, gateway.sampler.max_mb)
    finally:
        gateway.stop()
