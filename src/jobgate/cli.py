"""The ``jobgate`` command: serve, simulate, schema, check-config."""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jobgate import __version__
from jobgate.config import ConfigError, Settings, load_settings, startup_warnings
from jobgate.listing import CURSOR_KEY_ENV

if TYPE_CHECKING:
    from starlette.applications import Starlette

# How `serve --workers N` hands the log level to its worker processes.
WORKER_LOG_LEVEL = "JOBGATE_LOG_LEVEL"

DESCRIPTION = """\
jobgate: one GraphQL API in front of four vendors' job APIs
(Sitecore Content Hub, BigChange, Salesforce Data Cloud, ArcGIS Workflow Manager)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobgate", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"jobgate {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the gateway (no config: the embedded demo)",
        description="Run the GraphQL gateway. With no --config and no JOBGATE_CONFIG it starts "
        "the embedded demo: simulated upstreams in-process, seeded with sample jobs, GraphiQL on.",
    )
    serve.add_argument("--config", help="TOML config file (default: $JOBGATE_CONFIG)")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    simulate = commands.add_parser(
        "simulate",
        help="serve the four simulated upstreams over real HTTP",
        description="Serve every vendor simulator on one HTTP server (for tests and benchmarks) "
        "and print a config file that points a gateway at it.",
    )
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8100)
    simulate.add_argument(
        "--log-level", default="warning", choices=["debug", "info", "warning", "error"]
    )

    commands.add_parser(
        "schema",
        help="print the GraphQL schema (SDL)",
        description="Print the schema in SDL; schema/schema.graphql is this output.",
    )

    check = commands.add_parser(
        "check-config",
        help="validate a config file",
        description="Validate a config file and say exactly what is wrong with it.",
    )
    check.add_argument("file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "schema":
            return _schema()
        if args.command == "check-config":
            return _check_config(args.file)
        if args.command == "simulate":
            return _simulate(args.host, args.port, args.log_level)
        return _serve(args)
    except ConfigError as exc:
        print(f"jobgate: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _schema() -> int:
    from jobgate.graphql.schema import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")
    return 0


def _check_config(path: str) -> int:
    settings = load_settings(path)
    names = ", ".join(
        f"{n} ({s.provider.key}, {'fixed token' if s.token else 'renews its tokens'})"
        for n, s in settings.sources.items()
    )
    print(f"{path}: OK — {len(settings.sources)} source(s): {names}")
    for warning in startup_warnings(settings, path):
        print(f"jobgate: WARNING: {warning}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from jobgate.logs import configure_logging

    if args.workers < 1:
        print("jobgate: --workers must be at least 1", file=sys.stderr)
        return 2
    path = args.config or os.environ.get("JOBGATE_CONFIG")
    settings: Settings | None = load_settings(path) if path else None
    server = settings.server if settings else None
    host = args.host or (server.host if server else "127.0.0.1")
    port = args.port or (server.port if server else 8000)
    configure_logging(args.log_level)
    if settings is None:
        if args.workers > 1:
            print(
                "jobgate: the demo keeps its simulated jobs in one process; "
                "use --workers 1 or a config file",
                file=sys.stderr,
            )
            return 2
        print(
            "jobgate demo: simulated upstreams with sample jobs; no authentication.",
            file=sys.stderr,
        )
    else:
        assert path is not None
        for warning in startup_warnings(settings, path):
            print(f"jobgate: WARNING: {warning}", file=sys.stderr)
    if settings is None or settings.server.graphiql:
        print(f"GraphiQL: http://{host}:{port}/graphql", file=sys.stderr)
    else:
        print(f"GraphQL endpoint: http://{host}:{port}/graphql", file=sys.stderr)
    common = {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "log_level": args.log_level,
        # jobgate never uses the client's address, so rewriting it from X-Forwarded-* is pure
        # cost (~6% of a one-job request in bench/'s profile).
        "proxy_headers": False,
        **_fast_server(),
    }
    if args.workers > 1:
        assert path is not None
        return _serve_workers(path, args.workers, args.log_level, common)
    else:
        from jobgate.web.app import create_app, demo_app

        app = demo_app() if settings is None else create_app(settings)
        tune_gc()
        uvicorn.run(app, **common)
    return 0


def _serve_workers(path: str, workers: int, log_level: str, common: dict[str, Any]) -> int:
    """N worker processes on one port, each on its own SO_REUSEPORT socket (supervisor.py);
    each builds its app from the environment. Metrics use prometheus_client's multiprocess
    mode: a scrape lands on any one worker, and only files shared by all of them let it report
    the whole server. Idempotency keys, unless Redis or a path is configured, live in a SQLite
    file all workers share."""
    import shutil
    import tempfile

    from jobgate.supervisor import run_workers
    from jobgate.web.idempotency import SHARED_PATH_ENV

    os.environ["JOBGATE_CONFIG"] = path
    os.environ[WORKER_LOG_LEVEL] = log_level
    os.environ["JOBGATE_WORKERS"] = str(workers)  # each worker's audit file is its own
    owned = []
    # One key for every worker's searchJobs cursors: a page's cursor may reach another worker.
    os.environ.setdefault(CURSOR_KEY_ENV, secrets.token_hex(32))
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Fresh per run: values left by an earlier run would be summed into this one's.
        owned.append(tempfile.mkdtemp(prefix="jobgate-metrics-"))
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = owned[-1]
    if not os.environ.get(SHARED_PATH_ENV):
        # Without redis_url or [idempotency] path, each worker's memory would let one
        # Idempotency-Key run once per worker: the workers share a file instead.
        owned.append(tempfile.mkdtemp(prefix="jobgate-idempotency-"))
        os.environ[SHARED_PATH_ENV] = os.path.join(owned[-1], "keys.sqlite")
    try:
        return run_workers(workers, common)
    except OSError as exc:
        where = f"{common['host']}:{common['port']}"
        print(f"jobgate: cannot listen on {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        for directory in owned:
            shutil.rmtree(directory, ignore_errors=True)


def worker_app() -> Starlette:
    """Factory each ``--workers`` process calls: its own JSON logging, then the app."""
    from jobgate.logs import configure_logging
    from jobgate.web.app import app_from_environment

    configure_logging(os.environ.get(WORKER_LOG_LEVEL, "info"))
    app = app_from_environment()
    tune_gc()
    return app


# Young-generation collections, measured by bench/ on Q1: the default (700 allocations)
# collects thousands of times a second under load; 10,000 with the start-up objects frozen
# took one worker from 823 to 1,225 req/s. Memory stays flat (bench/RESULTS.md, soak).
GC_GEN0_THRESHOLD = 10_000


def tune_gc() -> None:
    """Freeze what start-up built (modules, schema, app: it lives as long as the process) so
    the collector stops walking it, and collect young objects less often."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


def _fast_server() -> dict[str, str]:
    """uvloop and httptools when they import (as uvicorn[standard] does); else pure Python."""
    fast: dict[str, str] = {}
    try:
        import uvloop  # noqa: F401

        fast["loop"] = "uvloop"
    except ImportError:
        pass
    try:
        import httptools  # noqa: F401

        fast["http"] = "httptools"
    except ImportError:
        pass
    return fast


def _simulate(host: str, port: int, log_level: str) -> int:
    import uvicorn

    from jobgate.logs import configure_logging
    from jobgate.simulators.suite import build_vendors, config_toml, suite_app

    vendors = build_vendors()
    origin = f"http://{host}:{port}"
    configure_logging(log_level)
    print(f"Simulated upstreams on {origin}. A config for them:\n", file=sys.stderr)
    print(config_toml(vendors, origin), file=sys.stderr)
    uvicorn.run(suite_app(vendors), host=host, port=port, log_config=None, log_level=log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
