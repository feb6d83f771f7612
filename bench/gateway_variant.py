"""The gateway with one lever changed, for before/after figures: ``jobgate serve`` otherwise.

``python -m bench.gateway_variant --config F --port P [--loop asyncio] [--http h11]
[--transport httpx] [--dispatch client] [--fields strawberry] [--document-cache off]
[--json stdlib]
[--gc default]`` builds the app through ``create_app``'s ``transport_factory`` seam, or swaps
one function of ``src/`` for its plain equivalent before the app is built, so nothing in
``src/`` needs a switch for the bench. Levers that are config keys (``coalesce_reads``,
``max_concurrency``) go in the config file instead.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import httpx

from jobgate.config import SourceSettings


def httpx_pool(settings: SourceSettings) -> httpx.AsyncBaseTransport:
    """httpx's own connection pool, sized like the production transport."""
    return httpx.AsyncHTTPTransport(
        limits=httpx.Limits(
            max_connections=settings.max_concurrency,
            max_keepalive_connections=settings.max_concurrency,
        )
    )


def send_through_client() -> None:
    """Every upstream call through ``httpx.AsyncClient.request``, as before direct dispatch."""
    from jobgate.internals.httpx import UpstreamClient

    async def dispatch(self: UpstreamClient, method: str, url: httpx.URL, **kw: Any) -> Any:
        return await self.request(method, url, **kw)

    UpstreamClient.dispatch = dispatch  # type: ignore[method-assign]


def strawberry_resolvers() -> None:
    """Every field through Strawberry's own resolver wrappers (no ``fast_fields``)."""
    from jobgate.internals import strawberry as fast_fields

    fast_fields.install = lambda *args, **kwargs: None


def no_document_cache() -> None:
    """Parse, validate and inspect every request's document again (no static answers either)."""
    from jobgate.graphql import limits
    from jobgate.graphql.execution import Executor

    Executor.prepare = lambda self, query: self._prepare(query)  # type: ignore[method-assign]
    limits._inspect_cached = limits._inspect  # type: ignore[assignment]


class StdJson:
    """The part of orjson's interface jobgate's hot path uses, done with the standard library."""

    JSONDecodeError = json.JSONDecodeError
    OPT_SORT_KEYS = 1

    @staticmethod
    def dumps(obj: Any, default: Any = None, option: int | None = None) -> bytes:
        text = json.dumps(
            obj, default=default, sort_keys=bool(option), separators=(",", ":"), ensure_ascii=False
        )
        return text.encode()

    @staticmethod
    def loads(raw: bytes | str) -> Any:
        return json.loads(raw)


def stdlib_json() -> None:
    """Request, response and upstream bodies through ``json`` instead of ``orjson``."""
    from jobgate.upstream import channel as http
    from jobgate.web import endpoint as graphql_http
    from jobgate.web import observe

    for module in (graphql_http, observe, http):
        module.orjson = StdJson  # type: ignore[attr-defined]


def tune_gc_as_serve_does() -> None:
    """Whatever ``jobgate serve`` does to the garbage collector after start-up, if anything."""
    from jobgate import cli

    tune = getattr(cli, "tune_gc", None)
    if callable(tune):
        tune()


def main() -> None:
    import uvicorn

    from jobgate.config import load_settings
    from jobgate.logs import configure_logging
    from jobgate.upstream.transport import production_transport
    from jobgate.web.app import create_app

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"])
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"])
    parser.add_argument("--transport", default="aiohttp", choices=["aiohttp", "httpx"])
    parser.add_argument("--dispatch", default="direct", choices=["direct", "client"])
    parser.add_argument("--fields", default="fast", choices=["fast", "strawberry"])
    parser.add_argument("--document-cache", default="on", choices=["on", "off"])
    parser.add_argument("--json", default="orjson", choices=["orjson", "stdlib"])
    parser.add_argument("--log-level", default="warning")
    parser.add_argument(
        "--gc",
        default="serve",
        choices=["serve", "default"],
        help="serve: tune the collector as `jobgate serve` does (if it does); default: leave it",
    )
    args = parser.parse_args()
    configure_logging(args.log_level)
    if args.dispatch == "client":
        send_through_client()
    if args.fields == "strawberry":
        strawberry_resolvers()
    if args.document_cache == "off":
        no_document_cache()
    if args.json == "stdlib":
        stdlib_json()
    factory = production_transport if args.transport == "aiohttp" else httpx_pool
    app = create_app(load_settings(args.config), transport_factory=factory)
    if args.gc == "serve":
        tune_gc_as_serve_does()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop=args.loop,
        http=args.http,
        log_config=None,
        access_log=False,
        log_level=args.log_level,
    )


if __name__ == "__main__":
    main()
