"""Build gateways and adapters over the simulators, with a fault-injecting transport per source."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
from starlette.applications import Starlette

from jobgate.config import IdempotencySettings, ServerSettings, Settings, SourceSettings
from jobgate.config.auth import AuthSettings
from jobgate.domain import Provider
from jobgate.providers.base import JobProvider
from jobgate.providers.registry import build_provider
from jobgate.simulators.faults import FaultyTransport
from jobgate.simulators.suite import SimulatedVendor, build_vendors, suite_app
from jobgate.web.app import create_app

ORIGIN = "http://simulators.test"


def vendor(provider: Provider, *, seeded: bool = True) -> SimulatedVendor:
    """A fresh simulator (own store) for one provider."""
    [found] = [v for v in build_vendors(seeded=seeded) if v.provider is provider]
    return found


@contextlib.asynccontextmanager
async def adapter(
    simulated: SimulatedVendor, **overrides: Any
) -> AsyncIterator[tuple[JobProvider, FaultyTransport]]:
    """The real adapter for ``simulated``, talking to it through httpx and a FaultyTransport."""
    faulty = FaultyTransport(httpx.ASGITransport(app=suite_app([simulated])))
    provider = build_provider(simulated.source_settings(ORIGIN, **overrides), faulty)
    try:
        yield provider, faulty
    finally:
        await provider.aclose()


@dataclass
class Gateway:
    """A running gateway app over simulators, and a client to it."""

    client: httpx.AsyncClient
    app: Starlette
    vendors: list[SimulatedVendor]
    faults: dict[str, FaultyTransport] = field(default_factory=dict)

    def store(self, source: str) -> Any:
        return next(v for v in self.vendors if v.source == source).store

    def record_header(self, source: str, header: str) -> list[str | None]:
        """From now on, ``header`` of every request the gateway sends to ``source``, in order."""
        seen: list[str | None] = []
        inner = self.faults[source].inner

        class Recording(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                seen.append(request.headers.get(header))
                return await inner.handle_async_request(request)

        self.faults[source].inner = Recording()
        return seen

    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        """POST a GraphQL request; asserts HTTP 200 and returns the JSON body."""
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def app_over_faults(
    vendors: Sequence[SimulatedVendor],
    settings: Settings | None = None,
    *,
    span_exporter: Any = None,
    **source_overrides: Any,
) -> tuple[Starlette, dict[str, FaultyTransport]]:
    """A gateway app (lifespan not run) over ``vendors``, each source behind a FaultyTransport."""
    app_of_suite = suite_app(list(vendors))
    sources = {v.source: v.source_settings(ORIGIN, **source_overrides) for v in vendors}
    faults = {name: FaultyTransport(httpx.ASGITransport(app=app_of_suite)) for name in sources}
    settings = replace(settings or Settings(server=ServerSettings()), sources=sources)

    def transport_for(source: SourceSettings) -> httpx.AsyncBaseTransport:
        return faults[source.name]

    app = create_app(settings, transport_factory=transport_for, span_exporter=span_exporter)
    return app, faults


@contextlib.asynccontextmanager
async def gateway(
    vendors: Sequence[SimulatedVendor] | None = None,
    *,
    server: ServerSettings | None = None,
    idempotency: IdempotencySettings | None = None,
    probe: bool = False,
    auth: AuthSettings | None = None,
    span_exporter: Any = None,
    **source_overrides: Any,
) -> AsyncIterator[Gateway]:
    """The whole gateway app (lifespan run) over the given simulators (default: all, seeded).

    ``probe``: run the start-up probe of every source and wait for it (off by default, so that
    tests count only the upstream calls they cause)."""
    vendors = list(vendors) if vendors is not None else build_vendors()
    settings = Settings(
        server=replace(server or ServerSettings(), probe_sources=probe),
        sources={},
        idempotency=idempotency or IdempotencySettings(),
        auth=auth or AuthSettings(),
    )
    app, faults = app_over_faults(
        vendors, settings, span_exporter=span_exporter, **source_overrides
    )
    async with app.router.lifespan_context(app):
        if probe:
            await app.state.probed
        # An unexpected error answers the client (a JSON 500) instead of failing the test here.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=auth is None)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield Gateway(client=client, app=app, vendors=vendors, faults=faults)
