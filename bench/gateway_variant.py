"""The gateway with one lever changed, for before/after figures: ``jobgate serve`` otherwise.

``python -m bench.gateway_variant --config F --port P [--loop asyncio] [--http h11]
[--transport httpx] [--gc default]`` builds the app with ``create_app`` and its public
``transport_factory`` seam, and runs it with uvicorn's own options. Levers that are settings
(``[server] fast_paths``, ``document_cache``; ``[sources.*] coalesce_reads``,
``max_concurrency``) go in the config file instead: nothing here reaches into ``src/``.
"""

from __future__ import annotations

import argparse

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


def tune_gc_as_serve_does() -> None:
    """What ``jobgate serve`` does to the garbage collector after start-up."""
    from jobgate.cli import tune_gc

    tune_gc()


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
    parser.add_argument("--log-level", default="warning")
    parser.add_argument(
        "--gc",
        default="serve",
        choices=["serve", "default"],
        help="serve: tune the collector as `jobgate serve` does (if it does); default: leave it",
    )
    args = parser.parse_args()
    configure_logging(args.log_level)
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
