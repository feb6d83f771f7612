"""Fuzz + fault soak: hostile inputs, fuzzed documents and injected upstream faults, together.

    python -m bench.hostile --write          # 10 minutes; writes bench/HOSTILE.md
    python -m bench.hostile --seconds 20     # a short run; prints the figures only

Everything is on 127.0.0.1 and bounded in time: the four vendor simulators run in this process
behind a fault server on a real socket (``jobgate.simulators.fault_proxy``) that fails a share of
all requests at random - connections dropped before or after the upstream applied a request,
answers that hang past the call's timeout, 429/500/503, a 500 after applying, non-JSON 200s,
answers larger than the gateway reads. The gateway runs as a real ``jobgate serve`` process with
``[auth]``. Clients send, at once: reads over every source, hostile requests (limits, bad bodies,
bad credentials, bad ids), fuzzed documents, and keyed mutations sent several times each.

Reported, with their targets: requests; 5xx answers (0); answers with INTERNAL (0); the gateway's
RSS at half time, once the bounded caches and stores are full (it takes a few minutes of fuzzed
documents and fresh keys), and at the end (flat: within 15 MB; not judged under 5 minutes); changes
applied per keyed mutation (at most one, exactly one where the answer said success); credentials
found in any answer or log line (0).
The exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.hostile_report import (
    CONCURRENCY,
    FAULT_SHARE,
    WARM_SHARE,
    Tally,
    render,
    summarize,
    verdict,
)
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.simulators import data_cloud
from jobgate.simulators.fault_proxy import FaultProxy, WireFault
from jobgate.simulators.suite import SimulatedVendor, build_vendors, suite_app

API_KEY = "hostile-soak-key-0123456789abcdef"
KEYED_JOBS = 2000  # after these, keyed mutations repeat old keys (replays)
READ = "query($ids: [ID!]!) { jobs(ids: $ids) { id status providerStatus allowedActions } }"
CLOSE = "mutation($id: ID!) { closeJob(id: $id) { job { id status } error { code message } } }"
VALID = [
    "{ __typename }",
    "{ sources { name healthy } }",
    '{ job(id: "hub:6161") { id status details { __typename } } }',
    '{ job(id: "gis:j1Xo9") { id allowedActions warnings { code message } } }',
    '{ jobs(ids: ["field:1009", "field:1002"]) { id status providerStatus } }',
    'mutation { setJobResult(id: "field:1014", status: COMPLETED_OK, result: "Pass") '
    "{ error { code } } }",
]


def hostile_requests() -> list[dict[str, Any]]:
    """(body or raw content, headers) a hostile client sends."""

    def deep(levels: int) -> str:
        return "{" + "a{" * levels + "b" + "}" * levels + "}"

    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    documents = [
        deep(150),
        deep(400),
        "{ " + " ".join(f"a{i}: __typename" for i in range(300)) + " }",
        "{ " + "__typename " * 3000 + "}",
        "{ ...F0 } " + chain + " fragment F40 on Query { __typename }",
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        "subscription { __typename }",
        '{ job(id: "' + "x" * 90_000 + '") { id } }',
        "{ job(id: " + "9" * 4301 + ") { id } }",
        '{ jobs(ids: ["nosuch:1", "ingest:../../admin", "gis:", ":x", ""]) { id } }',
        'mutation { manageJobs(action: DELETE, ids: ["ingest:1", "hub:2", "x"]) '
        "{ results { id error { code } } } }",
    ]
    requests: list[dict[str, Any]] = [{"json": {"query": d}} for d in documents]
    requests += [
        {"json": {"query": "query Q { __typename }", "operationName": "N" * 95_000}},
        {"json": {"query": VALID[0], "variables": "not an object"}},
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        {"content": b"\xff\xfe\x00garbage", "headers": {"content-type": "application/json"}},
        {"content": orjson.dumps({"query": VALID[0]}), "headers": {"content-type": "text/plain"}},
        {"content": b"x" * 200_000, "headers": {"content-type": "application/json"}},
        {"json": {"query": VALID[0]}, "auth": "Bearer not-a-real-key-at-all"},
        {"json": {"query": VALID[0]}, "auth": "Bearer a.b.c"},
        {"json": {"query": VALID[0]}, "auth": None},
        {
            "json": {"query": CLOSE, "variables": {"id": "ingest:7505e000001NLkPAAW"}},
            "headers": {"Idempotency-Key": "\x01bad"},
        },
    ]
    return requests


def fuzzed(rng: random.Random) -> str:
    """A valid document with a few random edits: tokens dropped, doubled, swapped, replaced."""
    tokens = re.findall(r"\w+|[^\w\s]|\s+", rng.choice(VALID))
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(tokens))
        edit = rng.randrange(5)
        if edit == 0:
            del tokens[i]
        elif edit == 1:
            tokens.insert(i, tokens[i])
        elif edit == 2:
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif edit == 3:
            tokens[i] = rng.choice(["{", "}", "(", ")", ":", "$x", "...", "@skip", '"', "\\u0000"])
        else:
            tokens[i] = "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randint(1, 8)))
        if not tokens:
            break
    return "".join(tokens)


def chaos(rng: random.Random) -> Any:
    """Fails FAULT_SHARE of all requests, each way a network or an upstream fails."""
    kinds = [
        WireFault("*", ".*", "drop-before"),
        WireFault("*", ".*", "drop-after"),
        WireFault("*", ".*", "hang-after", hang=1.5),
        WireFault("*", ".*", "status", status=500, body=b"upstream exploded"),
        WireFault("*", ".*", "status", status=503),
        WireFault("*", ".*", "status", status=429, body=b'{"Message":"Slow down."}'),
        WireFault("*", ".*", "status-after", status=500),
        WireFault("*", ".*", "status-after", status=200, body=b"<html>ok</html>"),
        WireFault("*", ".*", "status", status=500, body=b"x" * 5_000_000),
    ]

    def pick(method: str, path: str) -> WireFault | None:
        return rng.choice(kinds) if rng.random() < FAULT_SHARE else None

    return pick


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1000
    return 0.0


def config_text(vendors: list[SimulatedVendor], origin: str) -> str:
    lines = [
        "[server]",
        "request_timeout = 4",
        "probe_sources = false",
        "",
        "[[auth.api_keys]]",
        'name = "soak"',
        f'key = "{API_KEY}"',
        'scopes = ["jobs:read", "jobs:write"]',
        "",
    ]
    for vendor in vendors:
        lines += [f"[sources.{vendor.source}]", f'provider = "{vendor.provider.key}"']
        lines += [f'{k} = "{v}"' for k, v in vendor.config(origin).items()]
        lines += ["timeout = 1.0", "retries = 1", ""]
    return "\n".join(lines)


async def soak(seconds: float, seed: int, workdir: Path) -> dict[str, Any]:
    rng = random.Random(seed)
    vendors = build_vendors()
    ingest = next(v for v in vendors if v.provider is DATA_CLOUD).store
    keyed_jobs = [data_cloud.create_in(ingest, "Open") for _ in range(KEYED_JOBS)]
    proxy = FaultProxy(suite_app(vendors), chaos=chaos(rng))
    origin = await proxy.start()
    cfg = workdir / "jobgate.toml"
    cfg.write_text(config_text(vendors, origin))
    port = _free_port()
    log_path = workdir / "gateway.log"
    gateway = _start_gateway(cfg, port, log_path)
    tally = Tally()
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_up(base, gateway)
        samples: list[float] = []
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await _warm_up(client)
            first_rss = rss_mb(gateway.pid)
            started = time.monotonic()
            deadline = started + seconds
            warm_until = started + seconds * WARM_SHARE
            jobs = iter(keyed_jobs)
            start_rss = first_rss

            async def sample() -> None:
                nonlocal start_rss
                warm = False
                while time.monotonic() < deadline:
                    samples.append(rss_mb(gateway.pid))
                    if not warm and time.monotonic() >= warm_until:
                        start_rss, warm = samples[-1], True
                    await asyncio.sleep(1.0)

            await asyncio.gather(
                sample(),
                *(_client_loop(client, rng, tally, deadline, jobs) for _ in range(CONCURRENCY)),
            )
            await asyncio.sleep(2.0)  # let the last answers be logged
            end_rss = rss_mb(gateway.pid)
    finally:
        gateway.terminate()
        gateway.wait(timeout=20)
        await proxy.aclose()
    credentials = _credentials(vendors)
    logged = log_path.read_text(errors="replace")
    tally.leaks += [f"log: {c[:6]}..." for c in credentials if c in logged]
    tally.leaks += [f"answer: {c[:6]}..." for c in credentials if c in _answers_seen]
    figures = summarize(tally, proxy, start_rss, end_rss, max(samples or [end_rss]), seconds)
    figures["rss_first_mb"] = round(first_rss, 1)
    step = max(1, len(samples) // 10)
    figures["rss_curve_mb"] = [round(x) for x in samples[::step]]
    return figures


_answers_seen = ""  # every answer body, for the credential scan at the end (bounded below)


async def _client_loop(
    client: httpx.AsyncClient,
    rng: random.Random,
    tally: Tally,
    deadline: float,
    jobs: Any,
) -> None:
    hostile = hostile_requests()
    while time.monotonic() < deadline:
        roll = rng.random()
        if roll < 0.35:
            ids = rng.sample(
                ["ingest:7505e000001NLkPAAW", "hub:6161", "field:1009", "gis:j1Xo9", "gis:j2Pq4",
                 "field:1002", "hub:6168", "ingest:7505e000001NLkSAAW", "nope:1", "ingest:zz"],
                k=rng.randint(1, 6),
            )  # fmt: skip
            await _send(client, tally, {"json": {"query": READ, "variables": {"ids": ids}}})
        elif roll < 0.55:
            await _send(client, tally, rng.choice(hostile))
        elif roll < 0.75:
            await _send(client, tally, {"json": {"query": fuzzed(rng)}})
        else:
            job = next(jobs, None)
            if job is None:  # every job used: a client retrying an old key (a replay)
                job = rng.choice(list(tally.keyed))
            await _keyed(client, rng, tally, job)


async def _keyed(client: httpx.AsyncClient, rng: random.Random, tally: Tally, job: str) -> None:
    """One keyed closeJob, sent again on anything but a settled answer, and sometimes twice at
    once or once more after it settled (a client that is not sure)."""
    request = {
        "json": {"query": CLOSE, "variables": {"id": f"ingest:{job}"}},
        "headers": {"Idempotency-Key": f"close-{job}"},
    }
    answers = tally.keyed.setdefault(job, [])
    for _ in range(4):
        sends = 2 if rng.random() < 0.2 else 1
        results = await asyncio.gather(*(_send(client, tally, request) for _ in range(sends)))
        answers.extend(r for r in results if r is not None)
        settled = [
            r for r in results
            if r is not None and r.get("data") and "OUTCOME_UNKNOWN" not in orjson.dumps(r).decode()
        ]  # fmt: skip
        if settled and rng.random() < 0.7:
            return
        await asyncio.sleep(0.05)


async def _send(
    client: httpx.AsyncClient, tally: Tally, request: dict[str, Any]
) -> dict[str, Any] | None:
    global _answers_seen
    headers = {"x-jobgate-csrf": "1", **request.get("headers", {})}
    auth = request.get("auth", f"Bearer {API_KEY}")
    if auth is not None:
        headers["Authorization"] = auth
    tally.requests += 1
    try:
        if "json" in request:
            response = await client.post("/graphql", json=request["json"], headers=headers)
        else:
            response = await client.post("/graphql", content=request["content"], headers=headers)
    except httpx.HTTPError:
        tally.transport_errors += 1
        return None
    tally.statuses[response.status_code] += 1
    text = response.text
    if response.status_code >= 500:
        tally.five_xx.append(text[:200])
    if '"INTERNAL"' in text:
        tally.internal.append(text[:200])
    if len(_answers_seen) < 50_000_000:
        _answers_seen += text + "\n"
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _credentials(vendors: list[SimulatedVendor]) -> set[str]:
    """Every secret the gateway was configured with, and every token the simulators issued."""
    found = {API_KEY}
    for vendor in vendors:
        for key in ("client_secret", "password", "token"):
            value = vendor.options.get(key)
            if isinstance(value, str):
                found.add(value)
        store = vendor.store
        for book in (getattr(store, "tokens", None), getattr(store, "issued", None)):
            issued = getattr(book, "issued", None) if book is not None else None
            if isinstance(issued, dict):
                found |= set(issued)
            elif isinstance(book, dict):  # BigChange keeps its tokens in a dict
                found |= {t for t in book if isinstance(t, str) and t.startswith("bc_")}
    return {f for f in found if len(f) >= 8}


def _start_gateway(cfg: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("w") as log:
        # JOBGATE_SOAK_WRAP: a command to run the gateway under (a memory profiler, say).
        wrap = os.environ.get("JOBGATE_SOAK_WRAP", "").split()
        command = ["-m", "jobgate.cli", "serve", "--config", str(cfg), "--port", str(port)]
        return subprocess.Popen(
            [*(wrap or [sys.executable]), *command, "--log-level", "info"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


async def _wait_up(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=1) as client:
        for _ in range(1200):
            if process.poll() is not None:
                raise SystemExit("the gateway exited at start")
            try:
                await client.get("/healthz")
                return
            except httpx.HTTPError:
                await asyncio.sleep(0.1)
    raise SystemExit("the gateway did not start")


async def _warm_up(client: httpx.AsyncClient) -> None:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    for _ in range(20):
        await client.post("/graphql", json={"query": VALID[1]}, headers=headers)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="write bench/HOSTILE.md")
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="jobgate-hostile-") as workdir:
        figures = asyncio.run(soak(args.seconds, args.seed, Path(workdir)))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    text = render(figures, commit or "unknown")
    print(text)
    if args.write:
        (Path(__file__).parent / "HOSTILE.md").write_text(text)
    return 0 if all(ok for _, _, ok in verdict(figures)) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
