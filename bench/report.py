"""RESULTS.md (and RESULTS.json) from a bench's findings; the targets are judged in ``targets``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Iterable

import orjson

from bench.peers import PeerRow, PeerTable
from bench.profile import Profile
from bench.session import ExactCalls, Findings, split_cores
from bench.stats import RssSeries, RunResult
from bench.targets import evaluate

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


RUN_COLUMNS = [
    "set-up", "query", "conns", "req/s", "p50 ms", "p99 ms", "errors", "upstream calls/req",
    "RSS MB", "gateway CPU (cores)", "req/s per gateway core", "other load (cores)", "requests",
    "load",
]  # fmt: skip


def _every_run(findings: Findings) -> list[str]:
    rows = [_run_row(r) for r in findings.runs]
    return ["## Every run", "", RUNS_LEGEND, "", _table(RUN_COLUMNS, rows)]


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
        *_every_run(findings),
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
