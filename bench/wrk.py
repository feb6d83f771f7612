"""Runs ``wrk`` (when installed) with a generated Lua script and reads its figures back."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.loadgen import Target
from bench.procs import LOOPBACK, BenchError, pin_prefix
from bench.stats import RunResult

MARK = "BENCHJSON "

_REPORT = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end
gql_errors = 0
function response(status, headers, body)
  if status == 200 and CHECK_GRAPHQL and (string.find(body, '"errors":[', 1, true)
      or string.find(body, '"error":{', 1, true)) then
    gql_errors = gql_errors + 1
  end
end
function done(summary, latency, requests)
  local ge = 0
  for _, t in ipairs(threads) do ge = ge + (t:get("gql_errors") or 0) end
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"graphql":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\n',
    MARK, summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, ge, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def _long_string(text: str) -> str:
    level = 1
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def lua_script(target: Target) -> str:
    """The Lua that makes wrk send ``target`` (its bodies in turn) and report as JSON."""
    if target.once:
        raise ValueError("wrk cannot send each body exactly once; use the asyncio generator")
    headers = dict(target.headers)
    if target.bodies:
        headers["Content-Type"] = "application/json"
    lines = [
        f"MARK = {_long_string(MARK)}",
        f"CHECK_GRAPHQL = {'true' if target.check_graphql else 'false'}",
        f'wrk.method = "{target.method}"',
        *(f"wrk.headers[ {_long_string(k)} ] = {_long_string(v)}" for k, v in headers.items()),
    ]
    if len(target.bodies) == 1:
        lines.append(f"wrk.body = {_long_string(target.bodies[0].decode())}")
    elif len(target.bodies) > 1:
        bodies = ",\n  ".join(_long_string(b.decode()) for b in target.bodies)
        lines += [
            f"local bodies = {{\n  {bodies}\n}}",
            "local prepared = {}",
            "local turn = 0",
            "function init(args)",
            "  for i, b in ipairs(bodies) do",
            "    prepared[i] = wrk.format(nil, nil, nil, b)",
            "  end",
            "end",
            "function request()",
            "  turn = turn % #prepared + 1",
            "  return prepared[turn]",
            "end",
        ]
    return "\n".join(lines) + "\n" + _REPORT


def parse_report(name: str, connections: int, output: str) -> RunResult:
    for line in output.splitlines():
        if line.startswith(MARK):
            figures = json.loads(line[len(MARK) :])
            break
    else:
        raise BenchError(f"wrk printed no report:\n{output[-2000:]}")
    detail = {
        k: int(figures[k])
        for k in ("connect", "read", "write", "status", "timeout", "graphql")
        if figures[k]
    }
    return RunResult(
        name=name,
        connections=connections,
        requests=int(figures["requests"]),
        duration_s=figures["duration_us"] / 1e6,
        p50_ms=figures["p50"] / 1000,
        p90_ms=figures["p90"] / 1000,
        p99_ms=figures["p99"] / 1000,
        max_ms=figures["max"] / 1000,
        errors=sum(detail.values()),
        error_detail=detail,
        tool="wrk",
        abandoned=connections,  # a closed loop: one request per connection when time is up
    )


def run(
    name: str,
    target: Target,
    *,
    connections: int,
    duration_s: float,
    cores: Sequence[int] | None = None,
    timeout_s: float = 10.0,
) -> RunResult:
    """One wrk run (one thread) of ``duration_s`` seconds; wrk stops by itself."""
    with tempfile.TemporaryDirectory(prefix="jobgate-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(lua_script(target))
        args = [
            *pin_prefix(cores),
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration_s))}s",
            f"--timeout={timeout_s:g}s",
            "-s",
            str(script),
            f"http://{LOOPBACK}:{target.port}{target.path}",
        ]
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=duration_s + timeout_s + 30, check=False
        )
    return parse_report(name, connections, done.stdout + done.stderr)
