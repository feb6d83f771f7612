"""The vendors jobgate fronts: one line each.

A vendor is a ``Provider`` (its names and config keys, declared with its rules in
``domain/<vendor>.py``) and three modules named here: its adapter (``build(settings, transport)``
returns a ``JobProvider``), its simulator (``simulated(seeded=...)`` returns a
``SimulatedVendor``) and its GraphQL details type (``JOB_DETAILS``, a Strawberry type with
``from_domain(details)``). The modules are named, not imported: each layer loads the part it
needs, so this registry sits below all of them (it imports only the domain) and the config
file, the adapters, the simulators and the schema all read one list.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

from jobgate.domain.bigchange import BIGCHANGE
from jobgate.domain.content_hub import CONTENT_HUB
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.domain.providers import Provider
from jobgate.domain.workflow_manager import WORKFLOW_MANAGER

Part = Literal["adapter", "simulator", "graphql"]


@dataclass(frozen=True, slots=True)
class Vendor:
    provider: Provider
    adapter: str  # module path: build(settings, transport) -> JobProvider
    simulator: str  # module path: simulated(*, seeded) -> SimulatedVendor
    graphql: str  # module path: JOB_DETAILS, a Strawberry type with from_domain(details)

    def load(self, part: Part) -> ModuleType:
        """The module that implements ``part`` of this vendor."""
        return importlib.import_module(getattr(self, part))


class Vendors:
    """The registry: vendors in the order they were registered, found by provider or by the
    name config files use."""

    def __init__(self, *vendors: Vendor) -> None:
        self._by_key: dict[str, Vendor] = {}
        for vendor in vendors:
            self.register(vendor)

    def register(self, vendor: Vendor) -> None:
        provider = vendor.provider
        for other in self._by_key.values():
            if other.provider.name == provider.name or other.provider.key == provider.key:
                raise ValueError(f"a vendor named {provider.name} ({provider.key}) is registered")
        self._by_key[provider.key] = vendor

    def unregister(self, provider: Provider) -> None:
        if self._by_key.get(provider.key, None) is not None:
            del self._by_key[provider.key]

    def __iter__(self) -> Iterator[Vendor]:
        return iter(list(self._by_key.values()))

    def by_key(self, key: str) -> Vendor | None:
        return self._by_key.get(key)

    def of(self, provider: Provider) -> Vendor:
        vendor = self._by_key.get(provider.key)
        if vendor is None or vendor.provider is not provider:
            raise LookupError(f"provider {provider.key} is not registered")
        return vendor

    @property
    def providers(self) -> tuple[Provider, ...]:
        return tuple(v.provider for v in self._by_key.values())


def _builtin(provider: Provider, module: str) -> Vendor:
    return Vendor(
        provider,
        adapter=f"jobgate.providers.{module}",
        simulator=f"jobgate.simulators.{module}",
        graphql=f"jobgate.graphql.details.{module}",
    )


VENDORS = Vendors(
    _builtin(DATA_CLOUD, "data_cloud"),
    _builtin(CONTENT_HUB, "content_hub"),
    _builtin(BIGCHANGE, "bigchange"),
    _builtin(WORKFLOW_MANAGER, "workflow_manager"),
)
