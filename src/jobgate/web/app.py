"""``create_app(settings)``: the Starlette app. Clients and providers live in its lifespan.

Nothing is built at import time. Around the routes, outermost first: ``RequestScope`` (request
id, deadline, log line), ``AuthMiddleware`` (the caller's Principal), then the routes; an
unexpected error becomes a JSON 500 (``answers.internal_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from jobgate import audit
from jobgate.config import Settings, SourceSettings, load_settings
from jobgate.fleet import Fleet
from jobgate.gateway import Gateway
from jobgate.graphql.schema import build_schema
from jobgate.listing import Cursors, Lister
from jobgate.metrics import worker_exiting
from jobgate.providers.registry import build_provider
from jobgate.redaction import register
from jobgate.telemetry import Tracing
from jobgate.upstream.channel import collect_channels
from jobgate.upstream.transport import production_transport
from jobgate.watch import Watcher
from jobgate.web.answers import internal_error
from jobgate.web.auth import Authenticator, AuthMiddleware
from jobgate.web.endpoint import GraphQLEndpoint
from jobgate.web.idempotency import build_store
from jobgate.web.live import end_streams_on_signal
from jobgate.web.operator import (
    breakers_by_source,
    healthz,
    metrics_endpoint,
    probe_sources,
    readyz,
)
from jobgate.web.scope import RequestScope
from jobgate.web.sockets import serve_socket

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger("jobgate")

TransportFactory = Callable[[SourceSettings], httpx.AsyncBaseTransport]


class HandlerApp:
    """The ASGI app for a ``(Request) -> Response`` handler, for the one hot route.

    What Starlette's Route makes of a plain function, less its second Request and its second
    layer of exception handlers: the ExceptionMiddleware in front of the router applies the
    same handlers, and an unexpected error still reaches the last-resort JSON 500.
    """

    def __init__(self, handle: Callable[[Request], Awaitable[Response]]) -> None:
        self.handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handle(Request(scope, receive, send))
        await response(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    transport_factory: TransportFactory = production_transport,
    span_exporter: SpanExporter | None = None,
) -> Starlette:
    """Build the gateway app; ``transport_factory`` is the seam tests and demo mode use, and
    ``span_exporter`` traces to it instead of ``[telemetry]``'s OTLP endpoint (tests)."""
    schema = build_schema(fast_paths=settings.server.fast_paths)
    authenticator = Authenticator(settings.auth)
    endpoint = GraphQLEndpoint(schema, settings.server, authenticator)
    if settings.auth.jwt is not None and isinstance(settings.auth.jwt.key, str):
        register([settings.auth.jwt.key])  # an HS256 secret: never in an answer or a log
    if settings.server.cursor_secret:
        register([settings.server.cursor_secret])
    register(settings.telemetry.otlp_headers.values())
    tracing = None
    if settings.telemetry.enabled or span_exporter is not None:
        tracing = Tracing(settings.telemetry, span_exporter)
    app = Starlette(
        routes=_routes(settings, endpoint), lifespan=_lifespan(transport_factory, tracing)
    )
    # The Principal is recorded before the route (and its Idempotency-Key guard) runs.
    app.add_middleware(AuthMiddleware, authenticator=authenticator)
    app.add_exception_handler(Exception, internal_error)  # a JSON 500, never a traceback
    if settings.file is not None and not settings.auth.enabled:
        log.warning("%s has no [auth]: anyone who can reach the gateway may use it", settings.file)
    # Outermost, so that every answer to /graphql is logged and counted, whoever gives it.
    app.add_middleware(RequestScope, timeout=settings.server.request_timeout, tracing=tracing)
    app.state.settings = settings
    app.state.endpoint = endpoint
    return app


def _routes(settings: Settings, endpoint: GraphQLEndpoint) -> list[BaseRoute]:
    graphql_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    routes: list[BaseRoute] = [
        Route("/graphql", HandlerApp(endpoint.handle), methods=graphql_methods, name="graphql"),
        WebSocketRoute("/graphql", functools.partial(serve_socket, endpoint.live)),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.server.metrics:
        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    if endpoint.ide is not None:
        routes.append(Route("/graphiql/{name}", endpoint.ide.serve, methods=["GET"]))
    return routes


def _lifespan(
    transport_factory: TransportFactory, tracing: Tracing | None
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """The sources' providers, the gateway over them and the idempotency store, for as long as
    the app serves; the start-up probe of every source runs in the background."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        settings: Settings = app.state.settings
        with collect_channels() as channels:  # each source's breakers, for /readyz and sources
            providers = {
                name: build_provider(source, transport_factory(source))
                for name, source in settings.sources.items()
            }
        app.state.breakers = breakers_by_source(channels)
        app.state.gateway = Gateway(
            providers,
            coalesce_reads={name: s.coalesce_reads for name, s in settings.sources.items()},
            lister=Lister(
                Cursors.keyed(settings.server.cursor_secret),
                listing={name: s.listing for name, s in settings.sources.items()},
                max_page=settings.server.max_page_size,
            ),
        )
        redis_url = settings.idempotency.redis_url
        fleet = Fleet(redis_url) if redis_url else None  # replicas share their polls
        app.state.watcher = Watcher(
            app.state.gateway.read_jobs,
            intervals={name: s.poll_interval for name, s in settings.sources.items()},
            fleet=fleet,
        )
        app.state.gateway.outcome_listeners.append(app.state.watcher.outcome)
        app.state.idempotency = build_store(settings.idempotency, settings.server)
        probing = settings.server.probe_sources
        app.state.probed = asyncio.create_task(probe_sources(providers)) if probing else None
        trail = audit.open_file(settings.audit)
        try:
            with end_streams_on_signal(app.state.watcher, app.state.endpoint.live):
                yield
        finally:
            audit.close_file(trail)
            await app.state.watcher.aclose()
            if fleet is not None:
                await fleet.aclose()
            if app.state.probed is not None:
                app.state.probed.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await app.state.probed
            await app.state.gateway.aclose()
            await app.state.idempotency.aclose()
            if tracing is not None:
                await asyncio.to_thread(tracing.shutdown)  # the last spans, exported
            worker_exiting()

    return lifespan


def demo_app() -> Starlette:
    """The embedded demo: every simulator in-process behind ``httpx.ASGITransport``."""
    from jobgate.simulators.demo import demo_settings, demo_transport_factory, populate
    from jobgate.simulators.suite import build_vendors

    vendors = build_vendors()
    populate(vendors)
    return create_app(demo_settings(vendors), transport_factory=demo_transport_factory(vendors))


def app_from_environment() -> Starlette:
    """Factory for ``uvicorn --factory`` (used by ``jobgate serve --workers N``)."""
    path = os.environ.get("JOBGATE_CONFIG")
    return create_app(load_settings(path)) if path else demo_app()
