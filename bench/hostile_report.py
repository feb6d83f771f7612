"""What a fuzz + fault soak found: the figures, the verdict on each target, HOSTILE.md."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from jobgate.simulators.fault_proxy import FaultProxy

DC_JOB_PATH = "/data-cloud/api/v1/ingest/jobs/{}"
FAULT_SHARE = 0.12
CONCURRENCY = 24
RSS_TOLERANCE_MB = 15.0
WARM_SHARE = 0.5  # of the run, before RSS is taken as the start figure


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    five_xx: list[str] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    transport_errors: int = 0
    keyed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def summarize(
    tally: Tally,
    proxy: FaultProxy,
    start_rss: float,
    end_rss: float,
    max_rss: float,
    seconds: float,
) -> dict[str, Any]:
    applied_per_key: Counter[int] = Counter()
    claimed_without_change = 0
    for job, answers in tally.keyed.items():
        applied = proxy.forwarded["PATCH", DC_JOB_PATH.format(job)]
        applied_per_key[applied] += 1
        said_done = any(
            ((a.get("data") or {}).get("closeJob") or {}).get("job") is not None for a in answers
        )
        if said_done and applied != 1:
            claimed_without_change += 1
    faults = sum(proxy.received.values()) - sum(proxy.forwarded.values())
    return {
        "seconds": seconds,
        "requests": tally.requests,
        "statuses": dict(sorted(tally.statuses.items())),
        "transport_errors": tally.transport_errors,
        "five_xx": len(tally.five_xx),
        "internal": len(tally.internal),
        "rss_start_mb": round(start_rss, 1),
        "rss_end_mb": round(end_rss, 1),
        "rss_max_mb": round(max_rss, 1),
        "upstream_requests": sum(proxy.received.values()),
        "upstream_faults_before_applying": faults,
        "keyed_mutations": len(tally.keyed),
        "changes_applied_per_key": dict(sorted(applied_per_key.items())),
        "success_without_one_change": claimed_without_change,
        "credentials_leaked": tally.leaks,
        "examples_5xx": tally.five_xx[:3],
    }


# A shorter run says nothing about memory: caches are still filling.
MIN_SECONDS_FOR_RSS = 300.0


def verdict(figures: dict[str, Any]) -> list[tuple[str, str, bool]]:
    rss_growth = figures["rss_end_mb"] - figures["rss_start_mb"]
    judge_rss = figures["seconds"] >= MIN_SECONDS_FOR_RSS
    twice = sum(n for applied, n in figures["changes_applied_per_key"].items() if applied > 1)
    return [
        ("5xx answers", f"{figures['five_xx']} (target 0)", figures["five_xx"] == 0),
        ("answers with INTERNAL", f"{figures['internal']} (target 0)", figures["internal"] == 0),
        (
            f"RSS after {WARM_SHARE:.0%} of the run → end",
            f"{figures['rss_start_mb']} → {figures['rss_end_mb']} MB (at the very start "
            f"{figures.get('rss_first_mb', '?')}, max {figures['rss_max_mb']}; target: "
            f"within {RSS_TOLERANCE_MB:g} MB)"
            + ("" if judge_rss else f"; not judged under {MIN_SECONDS_FOR_RSS:g} s"),
            rss_growth <= RSS_TOLERANCE_MB or not judge_rss,
        ),
        ("keys whose change was applied twice", f"{twice} (target 0)", twice == 0),
        (
            "success answered without exactly one change",
            f"{figures['success_without_one_change']} (target 0)",
            figures["success_without_one_change"] == 0,
        ),
        (
            "credentials in answers or log lines",
            f"{len(figures['credentials_leaked'])} (target 0)",
            not figures["credentials_leaked"],
        ),
    ]


def render(figures: dict[str, Any], commit: str) -> str:
    facts = [
        ("requests", f"{figures['requests']:,} (HTTP statuses {figures['statuses']})"),
        (
            "upstream requests",
            f"{figures['upstream_requests']:,}, of which "
            f"{figures['upstream_faults_before_applying']:,} failed before reaching the upstream",
        ),
        (
            "keyed mutations",
            f"{figures['keyed_mutations']:,} keys; changes applied per key: "
            f"{figures['changes_applied_per_key']}",
        ),
        ("RSS every tenth of the run, MB", str(figures.get("rss_curve_mb"))),
    ]
    rows = [f"| {name} | {shown} | |" for name, shown in facts]
    rows += [
        f"| {name} | {shown} | {'PASS' if ok else '**FAIL**'} |"
        for name, shown, ok in verdict(figures)
    ]
    table = "\n".join(rows)
    return (
        "# Fuzz + fault soak (`python -m bench.hostile`)\n\n"
        f"Commit `{commit}`, {figures['seconds']:g} s, {CONCURRENCY} clients, "
        f"{FAULT_SHARE:.0%} of all upstream requests failed at random on the wire.\n\n"
        "| figure | measured | |\n|---|---|---|\n"
        f"{table}\n"
    )
