"""Demo mode: the simulators, seeded with sample jobs, served in-process to the gateway."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from jobgate.config import ServerSettings, Settings, SourceSettings
from jobgate.simulators.suite import SimulatedVendor, build_vendors, sources_for, suite_app
from jobgate.vendors import VENDORS

DEMO_ORIGIN = "http://simulators.demo"


def demo_settings(vendors: list[SimulatedVendor] | None = None) -> Settings:
    vendors = vendors if vendors is not None else build_vendors()
    return Settings(server=ServerSettings(), sources=sources_for(vendors, DEMO_ORIGIN), demo=True)


def demo_transport_factory(
    vendors: list[SimulatedVendor] | None = None,
) -> Callable[[SourceSettings], httpx.AsyncBaseTransport]:
    app = suite_app(vendors if vendors is not None else build_vendors())

    def factory(source: SourceSettings) -> httpx.AsyncBaseTransport:
        return httpx.ASGITransport(app=app)

    return factory


DEMO_JOBS = 60  # per source, so that searchJobs pages are visible in GraphiQL


def populate(vendors: list[SimulatedVendor], per_source: int = DEMO_JOBS) -> None:
    """Top every seeded simulator up to ``per_source`` jobs, cycling through its states."""
    for vendor in vendors:
        module = VENDORS.of(vendor.provider).load("simulator")
        scenarios: tuple[str, ...] = module.SCENARIOS
        have = len(getattr(vendor.store, "jobs", ()))
        for index in range(max(0, per_source - have)):
            module.create_in(vendor.store, scenarios[index % len(scenarios)])
