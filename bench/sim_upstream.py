"""Every vendor simulator over real HTTP, counting requests, with jobs made for the bench.

``python -m bench.sim_upstream --port P [--per-source N]`` serves ``jobgate``'s simulator suite
(whatever vendors it holds today) plus a few bench-only routes:

- ``GET /_bench/info``: the gateway config for these simulators and the ids made for the bench;
- ``GET /_bench/count``: upstream requests served so far, in total and per source;
- ``POST /_bench/jobs?source=S&scenario=X&n=K``: K fresh jobs in state X (e.g. Open Data Cloud
  jobs for a mutation cycle), made with each simulator's own ``create_in`` hook.
"""

from __future__ import annotations

import argparse
import itertools
from collections import Counter
from types import ModuleType
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from jobgate.simulators.suite import SimulatedVendor, build_vendors, config_toml
from jobgate.vendors import VENDORS

BENCH_PREFIX = "/_bench"


def simulator_module(vendor: SimulatedVendor) -> ModuleType | None:
    """The module behind a vendor's simulator, if it offers the contract-suite ``create_in``."""
    module = VENDORS.of(vendor.provider).load("simulator")
    if hasattr(module, "create_in") and hasattr(module, "SCENARIOS"):
        return module
    return None


class CountingApp:
    """Counts every request that is not for the bench's own routes, per vendor mount."""

    def __init__(self, app: ASGIApp, mounts: dict[str, str]) -> None:
        self.app = app
        self.mounts = mounts  # mount prefix -> source
        self.by_source: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith(BENCH_PREFIX):
            path: str = scope["path"]
            source = next((s for m, s in self.mounts.items() if path.startswith(m)), "other")
            self.by_source[source] += 1
        await self.app(scope, receive, send)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def build(origin: str, per_source: int) -> CountingApp:
    vendors = build_vendors()
    modules = {v.source: simulator_module(v) for v in vendors}
    by_source = {v.source: v for v in vendors}

    def make(source: str, scenarios: list[str], n: int) -> list[str]:
        vendor, module = by_source[source], modules[source]
        assert module is not None
        return [
            f"{source}:{module.create_in(vendor.store, scenario)}"
            for scenario in itertools.islice(itertools.cycle(scenarios), n)
        ]

    ids = {
        source: make(source, list(module.SCENARIOS), per_source)
        for source, module in modules.items()
        if module is not None
    }
    info = {
        "config_toml": config_toml(vendors, origin),
        "ids": ids,
        "providers": {v.source: v.provider.key for v in vendors},
        "mounts": {v.source: v.mount + v.base_path for v in vendors},
        "options": {v.source: {k: str(x) for k, x in v.options.items()} for v in vendors},
    }

    async def get_info(request: Request) -> Response:
        return _json(info)

    async def get_count(request: Request) -> Response:
        counts = counting.by_source
        return _json({"requests": sum(counts.values()), "by_source": dict(counts)})

    async def post_jobs(request: Request) -> Response:
        source = request.query_params.get("source", "")
        scenario = request.query_params.get("scenario", "")
        n = int(request.query_params.get("n", "1"))
        module = modules.get(source)
        if module is None or scenario not in module.SCENARIOS or not 0 < n <= 100_000:
            return _json({"error": f"cannot make {n} jobs in {scenario!r} at {source!r}"}, 400)
        return _json({"ids": make(source, [scenario], n)}, 201)

    suite = Starlette(
        routes=[
            Route(BENCH_PREFIX + "/info", get_info),
            Route(BENCH_PREFIX + "/count", get_count),
            Route(BENCH_PREFIX + "/jobs", post_jobs, methods=["POST"]),
            *(Mount(v.mount, app=v.app) for v in vendors),
        ]
    )
    counting = CountingApp(suite, {v.mount: v.source for v in vendors})
    return counting


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="jobgate's simulators for the bench")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--per-source", type=int, default=20, help="jobs made per source")
    args = parser.parse_args()
    origin = f"http://127.0.0.1:{args.port}"
    app = build(origin, args.per_source)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
