"""The targets of the performance issue, judged on a bench's findings, and RESULTS.md."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from bench.peers import PEER_QUERY, PeerRow, PeerTable
from bench.profile import Profile
from bench.session import ExactCalls, Findings, split_cores
from bench.stats import RssSeries, RunResult

RUNS_LEGEND = " ".join(
    [
        "Upstream calls per request are counted at the upstream during the run and divided by",
        "the requests the gateway served: those answered plus, for wrk, the one per connection",
        "still in flight when wrk stopped. RSS is the largest worker's, sampled every 0.5 s.",
        "*gateway CPU* is the CPU time the gateway used per second of the run (1.00 = its core",
        "fully busy); *req/s per gateway core* divides the rate by it: what the gateway would do",
        "with a core to itself. *other load* is CPU used by processes outside the bench during",
        "the run (this machine is shared with other people's test runs): where it is well above",
        "0, that run's rate and latencies are understated.",
    ]
)


INCLUSIVE_NOTE = (
    "Inclusive shares do not nest: a coroutine resumed in its own task (a DataLoader batch, "
    "gathered upstream calls, uvicorn's per-request task) is sampled without the frames of "
    "the code that started it, so e.g. the whole-request share understates the request."
)


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
    hot, cold = "every request the same ids", "no two requests in flight share an id"
    verdicts = [
        _rps_target(findings, "Q0", 10_000, "Q0 `{__typename}` ≥ 10,000 req/s (1 worker, 1 core)"),
        _rps_target(findings, "Q1", 2_500, f"Q1 one job ≥ 2,500 req/s (hot: {hot})"),
        _rps_target(findings, "Q1 cold", 2_500, f"Q1 cold ≥ 2,500 req/s ({cold})"),
        _rps_target(findings, "Q20", 230, f"Q20 twenty aliased jobs ≥ 230 req/s (hot: {hot})"),
        _rps_target(findings, "Q20 cold", 230, f"Q20 cold ≥ 230 req/s ({cold})"),
        _peer_ratio(findings, "Q20", 0.5, "tailcall", f"Q20 hot ≥ 0.5x Tailcall's ({hot})"),
        _peer_ratio(
            findings, "Q20 cold", 0.5, "tailcall", "Q20 cold ≥ 0.5x Tailcall's (ids in variables)"
        ),
    ]
    q1_c1 = findings.find("gateway", "Q1", 1)
    direct_c1 = next(
        (r for r in findings.runs if r.group.startswith("direct") and r.connections == 1), None
    )
    label = "Q1 p50 overhead over a direct upstream GET ≤ 1 ms (1 connection)"
    if q1_c1 and direct_c1:
        overhead = q1_c1.p50_ms - direct_c1.p50_ms
        measured = f"{overhead:.2f} ms ({q1_c1.p50_ms:.2f} - {direct_c1.p50_ms:.2f} ms)"
        if q1_c1.foreign_cores is not None and q1_c1.foreign_cores >= 0.25:
            measured += f" (other load {q1_c1.foreign_cores:.2f} cores)"
        verdicts.append(Verdict(label, measured, "PASS" if overhead <= 1.0 else "FAIL"))
    else:
        verdicts.append(Verdict(label, "not measured", "n/a"))

    label = "Upstream calls per query = distinct job ids (Q0, Q1, Q20: Data Cloud)"
    counted = [e for e in findings.exact if e.measured is not None]
    judged = [e for e in counted if not e.expected_by_source]
    if judged:
        measured = ", ".join(f"{e.query} {e.measured:g}/{e.expected}" for e in judged)
        ok = all(e.measured == e.expected and e.problem is None for e in judged)
        problems = "; ".join(f"{e.query}: {e.problem}" for e in judged if e.problem)
        verdicts.append(Verdict(label, measured + (f" ({problems})" if problems else ""), _pf(ok)))
    else:
        verdicts.append(Verdict(label, "the upstream cannot count", "n/a"))
    for exact in (e for e in counted if e.expected_by_source):
        split = ", ".join(
            f"{s} {exact.by_source.get(s, 0):g} for {n} ids"
            for s, n in sorted(exact.expected_by_source.items())
        )
        extra = {
            s: n - exact.expected_by_source.get(s, 0)
            for s, n in exact.by_source.items()
            if n != exact.expected_by_source.get(s, 0)
        }
        verdict = "PASS" if not extra and exact.problem is None else "see note"
        detail = f" ({exact.problem})" if exact.problem else ""
        verdicts.append(
            Verdict(
                f"Upstream calls for `jobs(ids:)` over {exact.expected} ids, all sources",
                f"{exact.measured:g} calls: {split}{detail}",
                verdict,
            )
        )

    for name in ("Q1", "Q1 cold"):
        c8, c64 = findings.find("gateway", name, 8), findings.find("gateway", name, 64)
        label = f"No collapse: {name} p99 at 64 connections ≤ 4x p99 at 8"
        if c8 and c64 and c8.p99_ms > 0:
            ratio = c64.p99_ms / c8.p99_ms
            measured = (
                f"{ratio:.2f}x ({c64.p99_ms:.2f} vs {c8.p99_ms:.2f} ms; "
                f"{c64.rps:,.0f} vs {c8.rps:,.0f} req/s)"
            )
            verdicts.append(Verdict(label, measured, _pf(ratio <= 4.0)))
        else:
            verdicts.append(Verdict(label, "not measured", "n/a"))

    gateway_runs = [r for r in findings.runs if not r.group.startswith("direct")]
    errors = sum(r.errors for r in gateway_runs)
    where = "; ".join(
        f"{r.group} {r.name} c{r.connections}: {r.error_detail}" for r in gateway_runs if r.errors
    )
    verdicts.append(
        Verdict(
            "0 errors (every gateway run)",
            f"{errors} errors in {sum(r.requests for r in gateway_runs):,} requests"
            + (f" ({where})" if where else ""),
            _pf(errors == 0),
        )
    )
    verdicts.append(
        Verdict(
            "RSS per worker ≤ 150 MB",
            f"max {findings.rss_max_mb:.0f} MB" if findings.rss_max_mb else "not sampled",
            _pf(0 < findings.rss_max_mb <= 150) if findings.rss_max_mb else "n/a",
        )
    )
    label = "RSS flat over a 2-minute soak"
    soak = findings.soak
    if soak and soak.samples and findings.soak_run:
        measured = (
            f"{soak.samples[0][1]:.0f} → {soak.samples[-1][1]:.0f} MB over "
            f"{findings.soak_run.duration_s:.0f} s (last quarter - first quarter: "
            f"{soak.growth_mb():+.1f} MB)"
        )
        verdicts.append(Verdict(label, measured, _pf(soak.is_flat())))
    else:
        verdicts.append(Verdict(label, "not run (python -m bench --soak)", "n/a"))

    label = "`--workers 2` ≥ 1.7x one worker (two cores)"
    pairs = []
    for name in ("Q1", "Q0"):
        one = findings.find("workers=1, 2 cores", name)
        two = findings.find("workers=2, 2 cores", name)
        if one and two and one.rps > 0:
            pairs.append((name, two.rps / one.rps, one.rps, two.rps))
    if pairs:
        measured = "; ".join(f"{n} {r:.2f}x ({a:,.0f} → {b:,.0f} req/s)" for n, r, a, b in pairs)
        verdicts.append(Verdict(label, measured, _pf(pairs[0][1] >= 1.7)))
    else:
        verdicts.append(Verdict(label, "not measured", "n/a"))
    return verdicts


def _peers_section(table: PeerTable | None) -> list[str]:
    if table is None:
        return [
            "No other gateways' figures: run `bash ../shared/bench-peers/run.sh` and pass its "
            "table with `--peers FILE` to see them and judge the ratio targets.",
            "",
        ]
    queries = list(dict.fromkeys(row.query for row in table.rows))
    rows = [
        [server, *(_peer_cell(table, server, q) for q in queries)] for server in table.servers()
    ]
    return [
        f"Other gateways, req/s from one bench-peers run (`{table.source}`; nginx upstream, "
        "one core each; Q1c/Q20c ids in the document, Q1v/Q20v ids in variables):",
        "",
        _table(["server", *queries], rows),
        "",
    ]


def _peer_cell(table: PeerTable, server: str, query: str) -> str:
    row = next((r for r in table.rows if r.server == server and r.query == query), None)
    if row is None:
        return "-"
    return "FAIL" if row.rps is None else f"{row.rps:,.0f}"


def _pf(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# -- RESULTS.md ---------------------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _run_row(run: RunResult) -> list[str]:
    calls = run.calls_per_request
    per_core = run.rps_per_gateway_core
    return [
        run.group, run.name, str(run.connections), f"{run.rps:,.0f}", f"{run.p50_ms:.2f}",
        f"{run.p99_ms:.2f}", str(run.errors), "n/a" if calls is None else f"{calls:.2f}",
        "n/a" if run.rss_max_mb is None else f"{run.rss_max_mb:.0f}",
        _cores(run.gateway_cores) + split_cores(run.worker_cores),
        "n/a" if per_core is None else f"{per_core:,.0f}",
        _cores(run.foreign_cores), f"{run.requests:,}", run.tool,
    ]  # fmt: skip


def _cores(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


LEVER_QUERIES = ("Q1 cold", "Q20 cold", "Q1", "Q20")


def _levers(findings: Findings) -> str:
    base = {n: findings.find("gateway", n, 32) for n in LEVER_QUERIES}
    groups = [g for g in dict.fromkeys(r.group for r in findings.runs) if _is_lever(g)]
    rows = [["shipped (`jobgate serve`)", *_lever_cells(base.values()), "-"]]
    for group in groups:
        runs = {n: findings.find(group, n, 32) for n in base}
        ratios = [
            f"{n} {shipped.rps / run.rps:.2f}x"
            for n, run in runs.items()
            if run and run.rps and (shipped := base[n])
        ]
        rows.append([group, *_lever_cells(runs.values()), ", ".join(ratios) or "-"])
    header = ["gateway"] + [f"{n} {what}" for n in LEVER_QUERIES for what in ("req/s", "p99 ms")]
    return "\n".join(
        [
            "All at 32 connections. The *control* row is the shipped gateway started by the "
            "variant launcher: its distance from the shipped row is the run-to-run spread. "
            "Levers are measured on the cold queries, where no read can be coalesced; the hot "
            "ones only where the lever is about requests sharing ids.",
            "",
            _table([*header, "shipped ÷ this (req/s)"], rows),
        ]
    )


def _lever_cells(runs: Iterable[RunResult | None]) -> list[str]:
    cells: list[str] = []
    for run in runs:
        cells.append(f"{run.rps:,.0f}" if run else "-")
        cells.append(f"{run.p99_ms:.1f}" if run else "-")
    return cells


def _is_lever(group: str) -> bool:
    return group not in ("gateway", "soak") and not group.startswith(
        ("direct", "workers", "gateway (")
    )


def _profile(found: Profile) -> str:
    parts = [f"**{found.name}** — {found.samples:,} samples (the gateway was kept busy).", ""]
    parts.append(
        _table(
            ["self time in", "%"],
            [[label, f"{found.share(n):.1f}"] for label, n in found.self_by_category.most_common()],
        )
    )
    parts += ["", _table(
        ["inclusive (any frame on the stack)", "%"],
        [[label, f"{found.share(found.inclusive[label]):.1f}"]
         for label in _inclusive_order(found)],
    ), "", INCLUSIVE_NOTE]  # fmt: skip
    parts += ["", "Hottest functions (self time):", ""]
    parts.append(
        _table(
            ["function", "%"],
            [
                [f"`{f}`", f"{found.share(n):.1f}"]
                for f, n in found.self_by_function.most_common(12)
            ],
        )
    )
    return "\n".join(parts)


def _inclusive_order(found: Profile) -> list[str]:
    from bench.profile import INCLUSIVE

    known = [label for label, _ in INCLUSIVE if found.inclusive[label]]
    # A saved profile may carry labels of an older layout: shown after today's, not dropped.
    return known + [label for label in found.inclusive if label not in dict(INCLUSIVE)]


def now() -> str:
    return dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def to_json(findings: Findings) -> bytes:
    # dataclasses.asdict() rebuilds a Counter from (key, value) pairs, which counts the pairs.
    data = dataclasses.asdict(dataclasses.replace(findings, profiles=[]))
    data["profiles"] = [
        {
            "name": p.name,
            "samples": p.samples,
            "self_by_category": dict(p.self_by_category),
            "inclusive": dict(p.inclusive),
            "self_by_function": dict(p.self_by_function),
        }
        for p in findings.profiles
    ]
    return orjson.dumps(data, option=orjson.OPT_INDENT_2)


def from_json(raw: bytes) -> Findings:
    """The findings a run saved, to render RESULTS.md again (e.g. after editing ANALYSIS.md)."""
    data = orjson.loads(raw)
    data["runs"] = [RunResult(**r) for r in data["runs"]]
    data["exact"] = [ExactCalls(**e) for e in data["exact"]]
    if data["soak"] is not None:
        data["soak"] = RssSeries([(t, mb) for t, mb in data["soak"]["samples"]])
    if data["soak_run"] is not None:
        data["soak_run"] = RunResult(**data["soak_run"])
    if data.get("peers") is not None:
        peers = data["peers"]
        data["peers"] = PeerTable(peers["source"], [PeerRow(**r) for r in peers["rows"]])
    data["profiles"] = [
        Profile(
            name=p["name"],
            samples=p["samples"],
            self_by_category=Counter(p["self_by_category"]),
            inclusive=Counter(p["inclusive"]),
            self_by_function=Counter(p["self_by_function"]),
        )
        for p in data["profiles"]
    ]
    return Findings(**data)


def render(findings: Findings, analysis: str | None) -> str:
    env, command = findings.environment, findings.command
    out: list[str] = [
        "# jobgate benchmark results",
        "",
        f"Measured {findings.started} with `{command}` ({findings.mode}). Regenerate with the "
        "same command; `bench/README.md` says what each figure means. The figures are also in "
        "the `.json` file beside this one.",
        "",
        "## Machine and versions",
        "",
        _table(["", ""], [[k, v] for k, v in env.items()]),
        "",
        "Set-up: " + "; ".join(findings.upstreams),
        "",
        "## Targets",
        "",
        _table(
            ["target", "measured", "verdict"],
            [[v.target, v.measured, v.verdict] for v in evaluate(findings)],
        ),
        "",
        *_peers_section(findings.peers),
        "## Every run",
        "",
        RUNS_LEGEND,
        "",
        _table(
            [
                "set-up",
                "query",
                "conns",
                "req/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "upstream calls/req",
                "RSS MB",
                "gateway CPU (cores)",
                "req/s per gateway core",
                "other load (cores)",
                "requests",
                "load",
            ],
            [_run_row(r) for r in findings.runs],
        ),
    ]
    if any(_is_lever(r.group) for r in findings.runs):
        out += [
            "",
            "## Levers: the shipped gateway against one lever changed (back, or forward)",
            "",
            _levers(findings),
        ]
    if findings.soak and findings.soak.samples:
        series = findings.soak.samples
        step = max(1, len(series) // 12)
        points = ", ".join(f"{t - series[0][0]:.0f}s {mb:.0f}" for t, mb in series[::step])
        out += ["", "## Soak", "", f"RSS (MB) of the worker over the soak: {points}."]
    if findings.profiles:
        out += ["", "## Profile (py-spy, measured)", ""]
        for found in findings.profiles:
            out += [_profile(found), ""]
    if findings.notes:
        out += ["", "## Notes", "", *(f"- {n}" for n in findings.notes)]
    if analysis:
        out += ["", analysis.strip()]
    return "\n".join(out) + "\n"
