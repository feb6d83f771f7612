"""The gateway with one lever changed, for before/after figures: ``jobgate serve`` otherwise.

``python -m bench.gateway_variant --config F --port P [--loop asyncio] [--http h11]
[--transport httpx] [--gc default]`` builds the app through ``create_app``'s
``transport_factory`` seam, so nothing in ``src/`` needs a switch for the bench.
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
    """Whatever ``jobgate serve`` does to the garbage collector after start-up, if anything."""
    from jobgate import cli

    tune = getattr(cli, "tune_gc", None)
    if callable(tune):
        tune()


def main() -> None:
    import uvicorn

    from jobgate.app import create_app
    from jobgate.config import load_settings
    from jobgate.logs import configure_logging
    from jobgate.providers.registry import production_transport

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
