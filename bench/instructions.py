"""CPU instructions per job read, counted by valgrind's callgrind: a measure that does not move
with the machine's load (the same run twice agrees to ~0.03 %), for levers too small to see in
req/s on a shared host (bench/ANALYSIS.md).

``python -m bench.instructions [--reads N]`` runs ``Gateway.read_jobs`` over a MockTransport
that answers Data Cloud job JSON, reading N and then 2N distinct ids (16 at a time), once with
read coalescing on and once off, each under callgrind; the difference between the two counts,
divided by N, is what one read costs, start-up excluded. No network: this measures jobgate's
own path (gateway, adapter, channel, guard, httpx face), not the HTTP client or the server.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys

import httpx
import orjson

from bench.static_jobs import job, native_ids

CONCURRENCY = 16
_COLLECTED = re.compile(r"Collected : (\d+)")


async def _read(reads: int, coalesce: bool) -> None:
    from jobgate.config import SourceSettings
    from jobgate.domain.data_cloud import DATA_CLOUD
    from jobgate.gateway import Gateway
    from jobgate.providers.registry import build_provider

    ids = native_ids(reads)
    bodies = {f"/api/v1/ingest/jobs/{i}": orjson.dumps(job(i, n)) for n, i in enumerate(ids)}

    def answer(request: httpx.Request) -> httpx.Response:
        body = bodies[request.url.path]
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    settings = SourceSettings(
        name="ingest", provider=DATA_CLOUD, base_url="http://upstream.test", token="t" * 20
    )
    gateway = Gateway(
        {"ingest": build_provider(settings, httpx.MockTransport(answer))},
        coalesce_reads={"ingest": coalesce},
    )

    async def reader(first: int) -> None:
        for index in range(first, reads, CONCURRENCY):
            await gateway.read_jobs([f"ingest:{ids[index]}"])

    await asyncio.gather(*(reader(k) for k in range(CONCURRENCY)))
    await gateway.aclose()


def count(reads: int, coalesce: bool) -> int:
    """Instructions callgrind counts for a whole process that makes ``reads`` reads."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "bench.instructions", "--inner", str(reads),
        "--coalesce" if coalesce else "--no-coalesce",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"callgrind printed no count:\n{done.stderr[-500:]}")
    return int(found.group(1))


def per_read(reads: int, coalesce: bool) -> float:
    return (count(2 * reads, coalesce) - count(reads, coalesce)) / reads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reads", type=int, default=400)
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--coalesce", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    if args.inner is not None:
        asyncio.run(_read(args.inner, args.coalesce))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    for coalesce in (False, True):
        label = "coalesce_reads = true " if coalesce else "coalesce_reads = false"
        print(f"{label}  {per_read(args.reads, coalesce):>10,.0f} instructions per read")
    return 0


if __name__ == "__main__":
    sys.exit(main())
