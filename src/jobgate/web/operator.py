"""The routes operators use: ``/healthz``, ``/readyz`` and ``/metrics``, and the start-up probe
of every source that ``/readyz`` waits for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from jobgate.metrics import CONTENT_TYPE, exposition, metrics
from jobgate.providers.base import JobProvider
from jobgate.upstream.channel import Channel
from jobgate.upstream.resilience import CircuitBreaker, CircuitState, SourceHealth, source_health

log = logging.getLogger("jobgate")

Breakers = Mapping[str, Sequence[CircuitBreaker]]


async def healthz(request: Request) -> JSONResponse:
    """The process answers (liveness); says nothing about the sources."""
    return JSONResponse({"status": "ok"})


def sources_health(breakers: Breakers, names: Sequence[str]) -> list[SourceHealth]:
    return [source_health(name, breakers.get(name, ())) for name in names]


def _health_json(health: SourceHealth, provider: str) -> dict[str, Any]:
    return {
        "name": health.name,
        "provider": provider,
        "reached": health.reached,
        "circuit": health.state.value,
        "retryInSeconds": round(health.retry_in, 1),
    }


async def readyz(request: Request) -> JSONResponse:
    """200 when every source has answered usably and none has its circuit open; else 503
    naming the sources whose circuit is open and those nothing has reached yet."""
    state = request.app.state
    breakers: Breakers | None = getattr(state, "breakers", None)
    if breakers is None:  # the lifespan has not built the sources yet
        return JSONResponse({"status": "starting"}, status_code=503)
    sources = state.settings.sources
    health = sources_health(breakers, list(sources))
    listed = [_health_json(h, sources[h.name].provider.key) for h in health]
    opened = [h.name for h in health if h.state is CircuitState.OPEN]
    unreached = [h.name for h in health if not h.reached]
    if opened or unreached:
        body = {"status": "unavailable", "open": opened, "unreached": unreached, "sources": listed}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "sources": listed})


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text format; circuit gauges are brought up to date first (open → half-open)."""
    breakers: Breakers = getattr(request.app.state, "breakers", {})
    for health in sources_health(breakers, list(breakers)):
        metrics().circuit_state.labels(health.name).set(health.state.level)
    return Response(exposition(), media_type=CONTENT_TYPE)


def breakers_by_source(channels: Sequence[Channel]) -> dict[str, list[CircuitBreaker]]:
    """Group the channels' breakers by source (a source may have more than one channel)."""
    grouped: dict[str, list[CircuitBreaker]] = {}
    for channel in channels:
        grouped.setdefault(channel.source, []).append(channel.breaker)
    return grouped


async def probe_sources(providers: Mapping[str, JobProvider]) -> None:
    """Read each source once, concurrently, and say in the log which work: until a call has
    succeeded, a source is not healthy in ``sources`` and ``/readyz``."""

    async def probe(name: str, provider: JobProvider) -> None:
        problem = await provider.probe()
        if problem is None:
            log.info("source reachable", extra={"source": name})
        else:
            extra = {"source": name, "code": problem.code.value, "reason": problem.message}
            log.warning("source not usable", extra=extra)

    await asyncio.gather(*(probe(name, p) for name, p in providers.items()))
