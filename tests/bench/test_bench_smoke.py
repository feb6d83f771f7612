"""The bench's own machinery, in a tiny mode: no timing is asserted, wrk is not needed."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import orjson
import pytest
from bench.loadgen import Target
from bench.procs import BenchError, require_loopback
from bench.session import ExactCalls, Findings
from bench.sim_upstream import BENCH_PREFIX, build
from bench.stats import RssSeries, RunResult, percentile, summarize
from bench.upstreams import Upstream
from starlette.applications import Starlette

from bench import loadgen, peers, profile, queries, report, targets, wrk
from jobgate.config import ServerSettings, Settings
from jobgate.simulators.suite import build_vendors
from jobgate.web.app import create_app


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([], 50) == 0
    assert percentile([7.0], 99) == 7
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summarize_counts_errors_and_rate() -> None:
    run = summarize("Q1", 4, [3.0, 1.0, 2.0, 4.0], 2.0, {"graphql": 1, "timeout": 0})
    assert (run.requests, run.rps, run.p50_ms, run.max_ms) == (4, 2.0, 2.0, 4.0)
    assert run.errors == 1 and run.error_detail == {"graphql": 1}


def test_rss_flatness() -> None:
    flat, growing = RssSeries(), RssSeries()
    for second in range(40):
        flat.add(second, 80.0 + (second % 2))
        growing.add(second, 80.0 + second)
    assert flat.is_flat() and not growing.is_flat()


def test_answer_checks() -> None:
    good = orjson.dumps({"data": {"j0": {"id": "a"}, "j1": {"id": "b"}}})
    assert queries.answer_problem(good, expect_jobs=2) is None
    assert queries.answer_problem(good, expect_jobs=3) == "expected 3 jobs, got 2"
    bad = orjson.dumps({"data": None, "errors": [{"message": "no", "extensions": {"code": "X"}}]})
    assert queries.answer_problem(bad) == "GraphQL error X: no"
    assert queries.has_errors(bad) and not queries.has_errors(good)
    refused = orjson.dumps(
        {"data": {"closeJob": {"job": None, "error": {"code": "INVALID_STATE"}}}}
    )
    assert queries.has_errors(refused)
    assert "INVALID_STATE" in (queries.answer_problem(refused) or "")


def test_only_loopback_is_a_target() -> None:
    require_loopback("http://127.0.0.1:8000/x")
    with pytest.raises(BenchError):
        require_loopback("http://10.0.0.1:8000/")


def test_wrk_script_and_report_parsing() -> None:
    target = Target(port=1, path="/graphql", bodies=(b'{"query":"{ a }"}', b'{"query":"{ b }"}'))
    script = wrk.lua_script(target)
    assert "wrk.format" in script and "BENCHJSON" in script
    with pytest.raises(ValueError):
        wrk.lua_script(Target(port=1, path="/", bodies=(b"{}",), once=True))
    line = (
        'BENCHJSON {"requests":100,"duration_us":2000000,"connect":0,"read":0,"write":0,'
        '"status":2,"timeout":0,"graphql":1,"p50":1500,"p90":2000,"p99":3000,"max":4000}'
    )
    run = wrk.parse_report("Q1", 8, "Running 2s test\n" + line + "\n")
    assert (run.rps, run.p50_ms, run.p99_ms, run.errors) == (50.0, 1.5, 3.0, 3)


def test_profile_summary_attributes_self_and_inclusive_time() -> None:
    collapsed = "\n".join(
        [
            "run (uvicorn/x.py:1);GraphQLEndpoint.handle (jobgate/graphql_http.py:5);"
            "Schema.execute (strawberry/schema/schema.py:9);"
            "execute (graphql/execution/execute.py:3) 3",
            "run (uvicorn/x.py:1);RequestResponseCycle.send (uvicorn/protocols/http/h.py:2) 1",
        ]
    )
    found = profile.summarize("Q1", collapsed)
    assert found.samples == 4
    assert found.share(found.self_by_category["graphql-core execution"]) == 75.0
    assert found.share(found.inclusive["Strawberry Schema.execute (all of it)"]) == 75.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def _serve(app: Starlette | object, port: int) -> AsyncIterator[int]:
    import uvicorn

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", lifespan="on")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def test_asyncio_load_against_simulators_and_gateway() -> None:
    """The real pieces end to end for about a second: sim upstream, gateway, load generator."""
    sim_port = _free_port()
    origin = f"http://127.0.0.1:{sim_port}"
    sim = build(origin, per_source=3)
    async with _serve(sim, sim_port):
        async with httpx.AsyncClient(base_url=origin) as client:
            info = (await client.get(BENCH_PREFIX + "/info")).json()
        vendors = {v.source: v for v in build_vendors(seeded=False)}
        sources = {
            name: vendors[name].source_settings(origin) for name in info["ids"] if name in vendors
        }
        app = create_app(Settings(server=ServerSettings(max_aliases=20), sources=sources))
        async with _serve(app, _free_port()) as gw_port:
            ids = [i for ids in info["ids"].values() for i in ids][:4]
            target = Target(
                port=gw_port, path="/graphql", bodies=(queries.body(queries.q_jobs(ids)),)
            )
            before = sum(sim.by_source.values())
            run = await loadgen.run_async(
                "jobs", target, connections=2, duration_s=1.0, max_requests=20
            )
            assert run.requests > 0 and run.errors == 0, run.error_detail
            assert sum(sim.by_source.values()) > before

            fresh_ids = await _fresh_data_cloud_jobs(origin, info, 2)
            bodies = tuple(
                queries.body(queries.mutation(f, i))
                for f, i in zip(("closeJob", "abortJob"), fresh_ids, strict=True)
            )
            cycle = Target(port=gw_port, path="/graphql", bodies=bodies, once=True)
            done = await loadgen.run_async("mutations", cycle, connections=2, duration_s=5.0)
            assert done.requests == 2 and done.errors == 0, done.error_detail


async def _fresh_data_cloud_jobs(origin: str, info: dict[str, object], n: int) -> list[str]:
    providers = info["providers"]
    assert isinstance(providers, dict)
    source = next(s for s, p in providers.items() if p == "data-cloud")
    async with httpx.AsyncClient(base_url=origin) as client:
        made = await client.post(
            "/_bench/jobs", params={"source": source, "scenario": "Open", "n": str(n)}
        )
    return list(made.json()["ids"])


def test_results_render_with_every_section() -> None:
    findings = Findings(mode="test")
    direct = RunResult("GET job", 1, 1000, 1.0, 0.1, 0.1, 0.2, 0.3, group="direct GET (static)")
    q1 = RunResult("Q1", 1, 500, 1.0, 0.9, 1.0, 1.5, 2.0, group="gateway", gateway_cores=1.0)
    findings.runs += [direct, q1]
    findings.exact.append(ExactCalls("Q1", 1, 1.0))
    findings.rss_max_mb = 80.0
    findings.soak = RssSeries([(0.0, 80.0), (1.0, 80.0), (2.0, 81.0), (3.0, 80.0)])
    findings.soak_run = RunResult("mix", 32, 100, 120.0, 1, 1, 1, 1, group="soak")
    upstream = Upstream("static", "test", 1, {}, {}, "", (), lambda: None)
    assert "[server]" in upstream.config_toml()
    findings.environment = {"nproc": "2"}
    findings.profiles.append(
        profile.summarize("Q1", "run (uvicorn/x.py:1);send (aiohttp/http_writer.py:2) 3")
    )
    text = report.render(report.from_json(report.to_json(findings)), "## Reading\nok")
    verdicts = {v.target: v.verdict for v in targets.evaluate(findings)}
    assert verdicts["RSS per worker ≤ 150 MB"] == "PASS"
    assert verdicts["RSS flat over a 2-minute soak"] == "PASS"
    assert "| aiohttp | 100.0 |" in text
    assert "| Q1 p50 overhead" in text and "## Reading" in text and "| nproc | 2 |" in text


PEERS_TABLE = """# GraphQL peers over one REST upstream

| server | query | req/s | p50 ms | p99 ms | non-2xx/errors | upstream/req |
|---|---|---:|---:|---:|---|---:|
| tailcall | Q20 | 1000 | 30.00 | 40.00 | 0 | 20.01 |
| tailcall | Q20v | 900 | 33.00 | 45.00 | 0 | 20.01 |
| jobgate | Q20 | 800 | 38.00 | 50.00 | 0 | 20.02 |
| jobgate | Q20v | 300 | 99.00 | 140.00 | 0 | 20.02 |
| hive-gateway | Q1 | 0 | n/a | n/a | FAIL | n/a |

## Versions
"""


def test_peer_ratios_come_from_a_peers_table_or_are_not_judged(tmp_path: Path) -> None:
    findings = Findings(mode="test")
    findings.runs.append(RunResult("Q20", 32, 10, 1.0, 1, 1, 1, 1, group="gateway"))
    label = "Q20 hot ≥ 0.5x Tailcall's (every request the same ids)"
    cold = "Q20 cold ≥ 0.5x Tailcall's (ids in variables)"
    verdicts = {v.target: v for v in targets.evaluate(findings)}
    assert verdicts[label].verdict == "n/a" and verdicts[cold].verdict == "n/a"
    assert "| tailcall |" not in report.render(findings, None)

    path = tmp_path / "results.md"
    path.write_text(PEERS_TABLE)
    findings.peers = peers.load(path)
    assert findings.peers.rps("hive-gateway", "Q1") == 0.0
    verdicts = {v.target: v for v in targets.evaluate(findings)}
    assert verdicts[label].verdict == "PASS" and "0.80x" in verdicts[label].measured
    assert verdicts[cold].verdict == "FAIL" and "0.33x" in verdicts[cold].measured
    text = report.render(report.from_json(report.to_json(findings)), None)
    assert "| tailcall | 1,000 | 900 | - |" in text
    with pytest.raises(ValueError):
        peers.parse("no table here", "x.md")


def test_the_fuzz_and_fault_soak_runs_and_meets_its_targets(tmp_path: Path) -> None:
    """Ten seconds of bench.hostile: hostile inputs, fuzzed documents and random upstream faults
    against a real gateway process. (The README's figures come from a several-minute run.)"""
    from bench import hostile

    figures = asyncio.run(hostile.soak(10.0, seed=7, workdir=tmp_path))
    assert figures["requests"] > 100
    failed = [(name, shown) for name, shown, ok in hostile.verdict(figures) if not ok]
    assert failed == [], failed
    assert figures["keyed_mutations"] > 10


def test_the_instruction_count_reads_real_jobs_and_parses_callgrind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bench.instructions: its read loop runs (both modes), and a callgrind summary line is
    read as the count (valgrind itself is too slow for the suite: ~30 s a run)."""
    from bench import instructions

    assert instructions.main(["--inner", "40", "--no-coalesce"]) == 0
    assert instructions.main(["--inner", "40", "--coalesce"]) == 0

    seen: list[list[str]] = []

    class Done:
        returncode = 0

        def __init__(self, command: list[str], **options: object) -> None:
            seen.append(command)

        def communicate(self, timeout: float) -> tuple[str, str]:
            return "", "==1== Events    : Ir\n==1== Collected : 123456789\n"

    monkeypatch.setattr(instructions.subprocess, "Popen", Done)
    assert instructions.count(10, coalesce=False) == 123_456_789
    assert seen[0][:2] == ["valgrind", "--tool=callgrind"] and seen[0][-1] == "--no-coalesce"


def test_the_request_count_drives_whole_requests_through_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--requests: every kind's requests answer without errors through the real app and the
    aiohttp transport, from a static upstream in its own process; the count waits for the
    go-ahead of the process that turns counting on."""
    from bench.upstreams import start_static

    from bench import asgi_requests, instructions

    handshake = tmp_path / "handshake"
    handshake.mkdir()
    (handshake / "go").touch()
    monkeypatch.setenv(instructions.HANDSHAKE, str(handshake))
    monkeypatch.setattr(asgi_requests, "ROTATION", 200)
    upstream = start_static(tmp_path, None)
    try:
        config = tmp_path / "jobgate.toml"
        config.write_text(upstream.config_toml(server_options={"max_aliases": 64}))
        served = upstream.count() or 0
        for kind in asgi_requests.KINDS:
            assert instructions.main(["--inner-requests", kind, "4", "--config", str(config)]) == 0
        assert (handshake / "ready").exists()
        # Q1v and Q1c read each of the 200 ids once to warm up, then 4 more; Q20: 10 + 4
        # requests; every app's start-up probe reads one job too.
        reads = 2 * (200 + 4) + 2 * (10 + 4) * 20 + len(asgi_requests.KINDS)
        assert (upstream.count() or 0) - served == reads
    finally:
        upstream.stop()
