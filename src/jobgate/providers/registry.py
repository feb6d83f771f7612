"""How a configured source becomes a provider: its vendor's adapter (``jobgate.vendors``)."""

from __future__ import annotations

from typing import Protocol, cast

import httpx

from jobgate.config import SourceSettings
from jobgate.providers.base import JobProvider
from jobgate.redaction import register
from jobgate.vendors import VENDORS


class AdapterModule(Protocol):
    """What a vendor's adapter module offers."""

    def build(self, settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> JobProvider:
        """The provider for one configured source, calling its upstream through ``transport``."""
        ...


def build_provider(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> JobProvider:
    try:
        vendor = VENDORS.of(settings.provider)
    except LookupError:
        raise ValueError(f"provider {settings.provider.key} is not available") from None
    register(settings.secrets())  # never to leave the gateway (jobgate.redaction)
    adapter = cast(AdapterModule, vendor.load("adapter"))
    return adapter.build(settings, transport)
