"""The ``jobgate`` command: serve, simulate, schema, check-config."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from jobgate.config import ConfigError, Settings, load_settings

DESCRIPTION = """\
jobgate: one GraphQL API in front of four vendors' job APIs
(Sitecore Content Hub, BigChange, Salesforce Data Cloud, ArcGIS Workflow Manager)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jobgate", description=DESCRIPTION)
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
    from jobgate.config import ServerSettings
    from jobgate.graphql.schema import build_schema

    sys.stdout.write(build_schema(ServerSettings()).as_str() + "\n")
    return 0


def _check_config(path: str) -> int:
    settings = load_settings(path)
    names = ", ".join(f"{n} ({s.provider.value})" for n, s in settings.sources.items())
    print(f"{path}: OK — {len(settings.sources)} source(s): {names}")
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
    }
    if args.workers > 1:
        assert path is not None
        os.environ["JOBGATE_CONFIG"] = path
        uvicorn.run(
            "jobgate.app:app_from_environment", factory=True, workers=args.workers, **common
        )
    else:
        from jobgate.app import create_app, demo_app

        app = demo_app() if settings is None else create_app(settings)
        uvicorn.run(app, **common)
    return 0


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
