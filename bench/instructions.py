"""CPU instructions per job read, counted by valgrind's callgrind: a measure that does not move
with the machine's load (the same run twice agrees to ~0.03 %), for levers too small to see in
req/s on a shared host (bench/ANALYSIS.md).

``python -m bench.instructions [--reads N]`` runs ``Gateway.read_jobs`` over a transport that
answers Data Cloud job JSON from memory the way the production one answers plain reads
(``WholeReads.fetch``), reading N and then 2N distinct ids (16 at a time), once with read
coalescing on and once off, each under callgrind; the difference between the two counts,
divided by N, is what one read costs, start-up excluded. No network: this measures jobgate's
own path (gateway, adapter, channel, guard, the direct read), not the HTTP client or server.

``python -m bench.instructions --requests [--kinds Q1v,Q20v] [--count N]`` counts whole GraphQL
requests instead (``bench.asgi_requests``): the app called in-process as ``jobgate serve`` builds
it, reading through the production aiohttp transport from ``bench.static_upstream`` in another
process (not counted), the same N-then-2N difference per request kind. This is the figure to
judge a lever by before a bench-peers run: it includes the HTTP client, GraphQL execution and the
app, and leaves out only uvicorn's protocol and the kernel. It repeats less exactly than the read
count, because how the event loop's turns fall depends on timing: to ~0.3 % on Q1v and Q20v,
~1.5 % on Q0 (measured twice each).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import orjson

from bench.static_jobs import job, native_ids
from jobgate.internals.httpx import Fetched

CONCURRENCY = 16
_COLLECTED = re.compile(r"Collected : (\d+)")
HANDSHAKE = "JOBGATE_BENCH_CALLGRIND"  # a folder: ready / go files (``ready_to_count``)


class _CannedReads(httpx.AsyncBaseTransport):
    """Answers plain reads the way the production transport does (``WholeReads.fetch``: no
    httpx Request or Response), from bytes in memory, after one turn of the event loop, so
    that what is counted is jobgate's own path and not an HTTP client's."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]],
        content: bytes | None,
        timeouts: tuple[float | None, float | None, float | None],
    ) -> Fetched:
        await asyncio.sleep(0)  # an answer arrives on a later turn, as from a socket
        return (
            200,
            "OK",
            [(b"Content-Type", b"content-type", b"application/json")],
            self.bodies[url],
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"not a plain read: {request.method} {request.url}")


async def _read(reads: int, coalesce: bool) -> None:
    from jobgate.config import SourceSettings
    from jobgate.domain.data_cloud import DATA_CLOUD
    from jobgate.gateway import Gateway
    from jobgate.providers.registry import build_provider

    ids = native_ids(reads)
    base = "http://upstream.test"
    bodies = {f"{base}/api/v1/ingest/jobs/{i}": orjson.dumps(job(i, n)) for n, i in enumerate(ids)}
    settings = SourceSettings(name="ingest", provider=DATA_CLOUD, base_url=base, token="t" * 20)
    gateway = Gateway(
        {"ingest": build_provider(settings, _CannedReads(bodies))},
        coalesce_reads={"ingest": coalesce},
    )

    async def reader(first: int) -> None:
        for index in range(first, reads, CONCURRENCY):
            await gateway.read_jobs([f"ingest:{ids[index]}"])

    await asyncio.gather(*(reader(k) for k in range(CONCURRENCY)))
    await gateway.aclose()


def _callgrind(*inner: str, deferred: bool = False) -> int:
    """Instructions callgrind counts for a ``python -m bench.instructions`` process.

    ``deferred``: counting starts only when the process says it is ready (``ready_to_count``),
    so that its start-up (imports, schema, warm-up: ~4 billion instructions) runs uninstrumented,
    several times faster; what it does from then on is counted as before."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        *(["--instr-atstart=no"] if deferred else []),
        sys.executable, "-m", "bench.instructions", *inner,
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="jobgate-callgrind-") as folder:
        # One hash seed: str hashes (dict and set layouts) then repeat from run to run.
        env = {**os.environ, "PYTHONHASHSEED": "0", **({HANDSHAKE: folder} if deferred else {})}
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        if deferred:
            _start_counting(process, Path(folder))
        _, stderr = process.communicate(timeout=900)
    found = _COLLECTED.search(stderr)
    if process.returncode != 0 or found is None:
        raise RuntimeError(f"no count (exit {process.returncode}):\n{stderr[-1500:]}")
    return int(found.group(1))


def _start_counting(process: subprocess.Popen[str], folder: Path) -> None:
    deadline = time.monotonic() + 600
    while not (folder / "ready").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            return  # its exit status and output tell why
        time.sleep(0.2)
    on = ["callgrind_control", "--instr=on", str(process.pid)]
    subprocess.run(on, check=True, capture_output=True, timeout=60)
    (folder / "go").touch()


async def ready_to_count() -> None:
    """In a process ``_callgrind(deferred=True)`` started: say so, and wait until counting is
    on (polling, so that valgrind, which takes commands between blocks of code, sees it)."""
    folder = os.environ.get(HANDSHAKE)
    if folder is None:
        return
    (Path(folder) / "ready").touch()
    while not (Path(folder) / "go").exists():  # noqa: ASYNC110 - another process's signal
        await asyncio.sleep(0.05)


def count(reads: int, coalesce: bool) -> int:
    """Instructions for a whole process that makes ``reads`` reads."""
    return _callgrind("--inner", str(reads), "--coalesce" if coalesce else "--no-coalesce")


def per_read(reads: int, coalesce: bool) -> float:
    return (count(2 * reads, coalesce) - count(reads, coalesce)) / reads


def per_request(kinds: list[str], requests: int) -> None:
    """Print instructions per GraphQL request of each kind, the upstream in its own process."""
    from bench.asgi_requests import ids_per_request
    from bench.upstreams import start_static

    with tempfile.TemporaryDirectory(prefix="jobgate-instructions-") as folder:
        work = Path(folder)
        upstream = start_static(work, None)
        try:
            config = work / "jobgate.toml"
            # bench-peers' limit: its Q20 has three aliases a job (j0, state, object).
            config.write_text(upstream.config_toml(server_options={"max_aliases": 64}))
            for kind in kinds:
                n = requests // ids_per_request(kind)
                inner = ("--inner-requests", kind, "{}", "--config", str(config))
                with concurrent.futures.ThreadPoolExecutor(2) as pool:  # counts do not race
                    counts = list(pool.map(functools.partial(_counted, inner), (n, 2 * n)))
                print(f"{kind:<5} {(counts[1] - counts[0]) / n:>12,.0f} instructions per request")
        finally:
            upstream.stop()


def _counted(inner: tuple[str, ...], requests: int) -> int:
    return _callgrind(*(part.format(requests) for part in inner), deferred=True)


def _inner_requests(kind: str, requests: int, config: str) -> None:
    from bench.asgi_requests import drive

    run = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop  # as jobgate serve runs when it is installed

        run = uvloop.run
    run(drive(Path(config).read_text(), kind, requests))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--coalesce", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--requests", action="store_true", help="count whole GraphQL requests")
    parser.add_argument("--kinds", default="Q0,Q1v,Q1c,Q20v,Q20c")
    parser.add_argument("--count", type=int, default=200, help="requests (Q20: a twentieth)")
    parser.add_argument("--inner-requests", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner is not None:
        asyncio.run(_read(args.inner, args.coalesce))
        return 0
    if args.inner_requests is not None:
        _inner_requests(args.inner_requests[0], int(args.inner_requests[1]), args.config)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    if args.requests:
        per_request(args.kinds.split(","), args.count)
        return 0
    for coalesce in (False, True):
        label = "coalesce_reads = true " if coalesce else "coalesce_reads = false"
        print(f"{label}  {per_read(args.reads, coalesce):>10,.0f} instructions per read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
