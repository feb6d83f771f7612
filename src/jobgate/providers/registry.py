"""Which adapter serves which provider, and how a configured source becomes a provider."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from jobgate.config import SourceSettings
from jobgate.domain import Provider
from jobgate.providers import bigchange, content_hub, data_cloud, workflow_manager
from jobgate.providers.base import JobProvider
from jobgate.redaction import register

ProviderFactory = Callable[[SourceSettings, httpx.AsyncBaseTransport], JobProvider]

# A new provider adds one line here.
FACTORIES: dict[Provider, ProviderFactory] = {
    Provider.DATA_CLOUD: data_cloud.build,
    Provider.CONTENT_HUB: content_hub.build,
    Provider.BIGCHANGE: bigchange.build,
    Provider.WORKFLOW_MANAGER: workflow_manager.build,
}


def build_provider(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> JobProvider:
    try:
        factory = FACTORIES[settings.provider]
    except KeyError:
        raise ValueError(f"provider {settings.provider.value} is not available") from None
    register(settings.secrets())  # never to leave the gateway (jobgate.redaction)
    return factory(settings, transport)


def production_transport(settings: SourceSettings) -> httpx.AsyncBaseTransport:
    """aiohttp-backed transport: httpx's own async pool collapses under concurrency."""
    import aiohttp

    from jobgate.upstream.transport import WholeBodyTransport

    def session() -> aiohttp.ClientSession:
        # Called on first use, inside the running loop. No cookie jar: see UpstreamClient.
        connector = aiohttp.TCPConnector(limit=settings.max_concurrency, keepalive_timeout=5.0)
        return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())

    return WholeBodyTransport(client=session, max_answer_bytes=settings.max_answer_bytes)
