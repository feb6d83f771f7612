"""``create_app(settings)``: the Starlette app. Clients and providers live in its lifespan."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable

import httpx
import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jobgate.config import Settings, SourceSettings, load_settings
from jobgate.gateway import Gateway
from jobgate.graphql.schema import build_schema
from jobgate.graphql_http import GraphQLEndpoint
from jobgate.providers.registry import build_provider, production_transport

log = logging.getLogger("jobgate")

TransportFactory = Callable[[SourceSettings], httpx.AsyncBaseTransport]


def create_app(
    settings: Settings,
    *,
    transport_factory: TransportFactory = production_transport,
    schema: strawberry.Schema | None = None,
) -> Starlette:
    """Build the gateway app; ``transport_factory`` is the seam tests and demo mode use."""
    schema = schema or build_schema(settings.server)
    endpoint = GraphQLEndpoint(schema, settings.server)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        providers = {
            name: build_provider(source, transport_factory(source))
            for name, source in settings.sources.items()
        }
        app.state.gateway = Gateway(providers)
        try:
            yield
        finally:
            await app.state.gateway.aclose()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/graphql", endpoint.handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


def demo_app() -> Starlette:
    """The embedded demo: every simulator in-process behind ``httpx.ASGITransport``."""
    from jobgate.demo import demo_settings, demo_transport_factory
    from jobgate.simulators.suite import build_vendors

    vendors = build_vendors()
    return create_app(demo_settings(vendors), transport_factory=demo_transport_factory(vendors))


def app_from_environment() -> Starlette:
    """Factory for ``uvicorn --factory`` (used by ``jobgate serve --workers N``)."""
    path = os.environ.get("JOBGATE_CONFIG")
    return create_app(load_settings(path)) if path else demo_app()
