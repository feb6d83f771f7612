"""All simulators as one ASGI app, and the sources (config) that point at them.

``jobgate simulate`` serves this app over real HTTP; demo mode and tests call it in-process
through ``httpx.ASGITransport``. Every registered vendor (``jobgate.vendors``) is simulated by
its simulator module's ``simulated()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

from starlette.applications import Starlette
from starlette.routing import Mount

from jobgate.config import SourceSettings
from jobgate.simulators.vendor import SimulatedVendor
from jobgate.vendors import VENDORS, Vendor

__all__ = ["SimulatedVendor", "build_vendors", "config_toml", "sources_for", "suite_app"]


class SimulatorModule(Protocol):
    def simulated(self, *, seeded: bool = True) -> SimulatedVendor: ...


def simulate(vendor: Vendor, *, seeded: bool = True) -> SimulatedVendor:
    """A fresh simulator (its own store) for one registered vendor."""
    module = cast(SimulatorModule, vendor.load("simulator"))
    return module.simulated(seeded=seeded)


def build_vendors(*, seeded: bool = True) -> list[SimulatedVendor]:
    return [simulate(vendor, seeded=seeded) for vendor in VENDORS]


def suite_app(vendors: list[SimulatedVendor]) -> Starlette:
    return Starlette(routes=[Mount(v.mount, app=v.app) for v in vendors])


def sources_for(
    vendors: list[SimulatedVendor], origin: str, **overrides: Any
) -> Mapping[str, SourceSettings]:
    return {v.source: v.source_settings(origin, **overrides) for v in vendors}


def config_toml(vendors: list[SimulatedVendor], origin: str) -> str:
    """A config file that points a gateway at a running ``jobgate simulate``."""
    lines: list[str] = []
    for vendor in vendors:
        lines += [f"[sources.{vendor.source}]", f'provider = "{vendor.provider.key}"']
        lines += [f'{key} = "{value}"' for key, value in vendor.config(origin).items()]
        lines.append("")
    return "\n".join(lines)
