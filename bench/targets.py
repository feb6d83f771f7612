"""The targets of the performance issue, judged on a bench's findings."""

from __future__ import annotations

from dataclasses import dataclass

from bench.peers import PEER_QUERY
from bench.session import ExactCalls, Findings
from bench.stats import RunResult


@dataclass
class Verdict:
    target: str
    measured: str
    verdict: str  # PASS, FAIL, or n/a (not measured in this run)


def _rps_target(findings: Findings, name: str, floor: float, label: str) -> Verdict:
    run = findings.find("gateway", name, 32)
    if run is None:
        return Verdict(label, "not measured", "n/a")
    ok = run.rps >= floor and run.errors == 0
    errors = f", {run.errors} errors" if run.errors else ""
    return Verdict(label, f"{run.rps:,.0f} req/s{errors}{_context(run)}", _pf(ok))


def _peer_ratio(findings: Findings, name: str, floor: float, peer: str, label: str) -> Verdict:
    """jobgate ÷ a peer, both from one bench-peers run when it measured jobgate too."""
    table = findings.peers
    if table is None:
        return Verdict(label, "no peers table (python -m bench --peers FILE)", "n/a")
    query = PEER_QUERY[name]
    theirs = table.rps(peer, query)
    if not theirs:
        return Verdict(label, f"{peer} {query} not measured in {table.source}", "n/a")
    ours, where = table.rps("jobgate", query), f"one bench-peers run, {table.source}"
    if not ours:
        run = findings.find("gateway", name, 32)
        if run is None:
            return Verdict(label, "not measured", "n/a")
        ours, where = run.rps, f"this run against {table.source}: two runs, compare with care"
    ratio = ours / theirs
    measured = f"{ratio:.2f}x (jobgate {ours:,.0f} ÷ {peer} {theirs:,.0f} req/s {query}; {where})"
    return Verdict(label, measured, _pf(ratio >= floor))


def _context(run: RunResult) -> str:
    """How busy the gateway and the machine were: a contended run understates the gateway."""
    parts = []
    if run.rps_per_gateway_core is not None:
        parts.append(f"{run.rps_per_gateway_core:,.0f} per gateway CPU-second")
    if run.foreign_cores is not None and run.foreign_cores >= 0.25:
        parts.append(f"other load {run.foreign_cores:.2f} cores")
    return f" ({'; '.join(parts)})" if parts else ""


def evaluate(findings: Findings) -> list[Verdict]:
    """Every target of the performance issue, in the order RESULTS.md lists them."""
    hot, cold = "every request the same ids", "no two requests in flight share an id"
    return [
        _rps_target(findings, "Q0", 10_000, "Q0 `{__typename}` ≥ 10,000 req/s (1 worker, 1 core)"),
        _rps_target(findings, "Q1", 2_500, f"Q1 one job ≥ 2,500 req/s (hot: {hot})"),
        _rps_target(findings, "Q1 cold", 2_500, f"Q1 cold ≥ 2,500 req/s ({cold})"),
        _rps_target(findings, "Q20", 230, f"Q20 twenty aliased jobs ≥ 230 req/s (hot: {hot})"),
        _rps_target(findings, "Q20 cold", 230, f"Q20 cold ≥ 230 req/s ({cold})"),
        _peer_ratio(findings, "Q20", 0.5, "tailcall", f"Q20 hot ≥ 0.5x Tailcall's ({hot})"),
        _peer_ratio(
            findings, "Q20 cold", 0.5, "tailcall", "Q20 cold ≥ 0.5x Tailcall's (ids in variables)"
        ),
        _peer_ratio(
            findings, "Q1 cold", 0.25, "tailcall", "Q1 cold ≥ 0.25x Tailcall's (id in variables)"
        ),
        *(
            _peer_ratio(findings, name, 1.0, "apollo", f"{name} ≥ 1.0x Apollo Server's")
            for name in APOLLO_ROWS
        ),
        _overhead(findings),
        *_upstream_calls(findings),
        *(_no_collapse(findings, name) for name in ("Q1", "Q1 cold")),
        _no_errors(findings),
        Verdict(
            "RSS per worker ≤ 150 MB",
            f"max {findings.rss_max_mb:.0f} MB" if findings.rss_max_mb else "not sampled",
            _pf(0 < findings.rss_max_mb <= 150) if findings.rss_max_mb else "n/a",
        ),
        _flat_soak(findings),
        _two_workers(findings),
    ]


# Every query shape of the side-by-side run (bench-peers): hot, cold with ids in the document,
# cold with ids in variables.
APOLLO_ROWS = ("Q0", "Q1", "Q20", "Q1 cold literal", "Q20 cold literal", "Q1 cold", "Q20 cold")


def _overhead(findings: Findings) -> Verdict:
    q1_c1 = findings.find("gateway", "Q1", 1)
    direct_c1 = next(
        (r for r in findings.runs if r.group.startswith("direct") and r.connections == 1), None
    )
    label = "Q1 p50 overhead over a direct upstream GET ≤ 1 ms (1 connection)"
    if not (q1_c1 and direct_c1):
        return Verdict(label, "not measured", "n/a")
    overhead = q1_c1.p50_ms - direct_c1.p50_ms
    measured = f"{overhead:.2f} ms ({q1_c1.p50_ms:.2f} - {direct_c1.p50_ms:.2f} ms)"
    if q1_c1.foreign_cores is not None and q1_c1.foreign_cores >= 0.25:
        measured += f" (other load {q1_c1.foreign_cores:.2f} cores)"
    return Verdict(label, measured, "PASS" if overhead <= 1.0 else "FAIL")


def _upstream_calls(findings: Findings) -> list[Verdict]:
    label = "Upstream calls per query = distinct job ids (Q0, Q1, Q20: Data Cloud)"
    counted = [e for e in findings.exact if e.measured is not None]
    judged = [e for e in counted if not e.expected_by_source]
    if judged:
        measured = ", ".join(f"{e.query} {e.measured:g}/{e.expected}" for e in judged)
        ok = all(e.measured == e.expected and e.problem is None for e in judged)
        problems = "; ".join(f"{e.query}: {e.problem}" for e in judged if e.problem)
        verdicts = [Verdict(label, measured + (f" ({problems})" if problems else ""), _pf(ok))]
    else:
        verdicts = [Verdict(label, "the upstream cannot count", "n/a")]
    return verdicts + [_calls_by_source(e) for e in counted if e.expected_by_source]


def _calls_by_source(exact: ExactCalls) -> Verdict:
    split = ", ".join(
        f"{s} {exact.by_source.get(s, 0):g} for {n} ids"
        for s, n in sorted(exact.expected_by_source.items())
    )
    extra = {
        s: n - exact.expected_by_source.get(s, 0)
        for s, n in exact.by_source.items()
        if n != exact.expected_by_source.get(s, 0)
    }
    detail = f" ({exact.problem})" if exact.problem else ""
    return Verdict(
        f"Upstream calls for `{exact.query}`, per source (expected: what the ids or the "
        "vendor's paging need)",
        f"{exact.measured:g} calls: {split}{detail}",
        "PASS" if not extra and exact.problem is None else "see note",
    )


def _no_collapse(findings: Findings, name: str) -> Verdict:
    c8, c64 = findings.find("gateway", name, 8), findings.find("gateway", name, 64)
    label = f"No collapse: {name} p99 at 64 connections ≤ 4x p99 at 8"
    if not (c8 and c64 and c8.p99_ms > 0):
        return Verdict(label, "not measured", "n/a")
    ratio = c64.p99_ms / c8.p99_ms
    measured = (
        f"{ratio:.2f}x ({c64.p99_ms:.2f} vs {c8.p99_ms:.2f} ms; "
        f"{c64.rps:,.0f} vs {c8.rps:,.0f} req/s)"
    )
    return Verdict(label, measured, _pf(ratio <= 4.0))


def _no_errors(findings: Findings) -> Verdict:
    gateway_runs = [r for r in findings.runs if not r.group.startswith("direct")]
    errors = sum(r.errors for r in gateway_runs)
    where = "; ".join(
        f"{r.group} {r.name} c{r.connections}: {r.error_detail}" for r in gateway_runs if r.errors
    )
    return Verdict(
        "0 errors (every gateway run)",
        f"{errors} errors in {sum(r.requests for r in gateway_runs):,} requests"
        + (f" ({where})" if where else ""),
        _pf(errors == 0),
    )


def _flat_soak(findings: Findings) -> Verdict:
    label = "RSS flat over a 2-minute soak"
    soak = findings.soak
    if not (soak and soak.samples and findings.soak_run):
        return Verdict(label, "not run (python -m bench --soak)", "n/a")
    measured = (
        f"{soak.samples[0][1]:.0f} → {soak.samples[-1][1]:.0f} MB over "
        f"{findings.soak_run.duration_s:.0f} s (last quarter - first quarter: "
        f"{soak.growth_mb():+.1f} MB)"
    )
    return Verdict(label, measured, _pf(soak.is_flat()))


def _two_workers(findings: Findings) -> Verdict:
    label = "`--workers 2` ≥ 1.8x one worker on Q1 cold (two cores, SO_REUSEPORT per worker)"
    pairs = []
    for name in ("Q1 cold", "Q1", "Q0"):
        one = findings.find("workers=1, 2 cores", name)
        two = findings.find("workers=2, 2 cores", name)
        if one and two and one.rps > 0:
            pairs.append((name, two.rps / one.rps, one.rps, two.rps))
    if not pairs:
        return Verdict(label, "not measured", "n/a")
    measured = "; ".join(f"{n} {r:.2f}x ({a:,.0f} → {b:,.0f} req/s)" for n, r, a, b in pairs)
    return Verdict(label, measured, _pf(pairs[0][0] == "Q1 cold" and pairs[0][1] >= 1.8))


def _pf(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
