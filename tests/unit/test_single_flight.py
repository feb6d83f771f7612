"""Single flight: concurrent reads of one job, from different requests, share one upstream read.

The upstream is the Data Cloud simulator behind a transport that can hold chosen requests until
the test releases them, so a read stays in flight exactly as long as a test needs: no sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from jobgate.config import ConfigError, parse_settings
from jobgate.domain import ActionOutcome, ActionRequest, Job, JobAction, JobError, Provider
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.domain.principal import READ, Principal
from jobgate.domain.rules import StateTable
from jobgate.gateway import Gateway
from jobgate.metrics import metrics
from jobgate.providers.base import JobProvider
from jobgate.providers.registry import build_provider
from jobgate.simulators.suite import suite_app
from tests import harness

OPEN = "7505e000001NLkPAAW"  # seeded Open: CLOSE applies
ACCOUNT = "7505e000001NLkQAAW"
LEAD = "7505e000001NLkRAAW"
JOBS = "/data-cloud/api/v1/ingest/jobs"


@dataclass
class Hold:
    """The next ``times`` requests of ``method`` on ``path`` wait for ``release``."""

    method: str
    path: str
    times: int = 1
    arrived: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    reached: asyncio.Event = field(default_factory=asyncio.Event)

    async def until_arrived(self, count: int = 1) -> None:
        while self.arrived < count:
            self.reached.clear()
            await self.reached.wait()


class GatedTransport(httpx.AsyncBaseTransport):
    """Counts every request it delivers, and holds those a ``Hold`` names."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.holds: list[Hold] = []
        self.sent: Counter[tuple[str, str]] = Counter()

    def hold(self, method: str, path: str, times: int = 1) -> Hold:
        found = Hold(method, path, times)
        self.holds.append(found)
        return found

    def gets(self, native_id: str) -> int:
        return self.sent["GET", f"{JOBS}/{native_id}"]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent[request.method, request.url.path] += 1
        for held in self.holds:
            if (held.method, held.path) == (request.method, request.url.path) and held.times:
                held.times -= 1
                held.arrived += 1
                held.reached.set()
                await held.release.wait()
                break
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Spy:
    """A provider that records each batch the gateway asks it to read."""

    def __init__(self, inner: JobProvider) -> None:
        self.inner = inner
        self.batches: list[list[str]] = []

    @property
    def source(self) -> str:
        return self.inner.source

    @property
    def provider(self) -> Provider:
        return self.inner.provider

    @property
    def rules(self) -> StateTable:
        return self.inner.rules

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        self.batches.append(list(native_ids))
        return await self.inner.read_jobs(native_ids)

    async def perform(
        self, request: ActionRequest, native_ids: Sequence[str]
    ) -> list[ActionOutcome]:
        return await self.inner.perform(request, native_ids)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Upstream:
    gateway: Gateway
    transport: GatedTransport
    spy: Spy


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with data_cloud() as running:
        yield running


@contextlib.asynccontextmanager
async def data_cloud(**gateway_options: Any) -> AsyncIterator[Upstream]:
    """A gateway over one seeded Data Cloud simulator (source ``ingest``)."""
    sim = harness.vendor(DATA_CLOUD)
    transport = GatedTransport(httpx.ASGITransport(app=suite_app([sim])))
    spy = Spy(build_provider(sim.source_settings(harness.ORIGIN), transport))
    gateway = Gateway({"ingest": spy}, **gateway_options)
    try:
        yield Upstream(gateway, transport, spy)
    finally:
        await gateway.aclose()


async def settle() -> None:
    """Let every task that is ready run up to its next wait (the loop is FIFO)."""
    for _ in range(5):
        await asyncio.sleep(0)


def read(gateway: Gateway, *native_ids: str) -> asyncio.Task[list[Job | JobError | None]]:
    return asyncio.create_task(gateway.read_jobs([f"ingest:{n}" for n in native_ids]))


def coalesced() -> float:
    metrics()
    found = REGISTRY.get_sample_value(
        "jobgate_upstream_reads_coalesced_total", {"source": "ingest"}
    )
    return found or 0.0


def job(answer: Job | JobError | None) -> Job:
    assert isinstance(answer, Job), answer
    return answer


async def test_concurrent_reads_of_one_job_make_one_upstream_call(upstream: Upstream) -> None:
    held = upstream.transport.hold("GET", f"{JOBS}/{OPEN}")
    first = read(upstream.gateway, OPEN)
    await held.until_arrived()
    second = read(upstream.gateway, OPEN)
    await settle()
    held.release.set()
    [a], [b] = await first, await second
    assert job(a).native_id == job(b).native_id == OPEN
    assert upstream.transport.gets(OPEN) == 1
    assert upstream.spy.batches == [[OPEN]]
    assert upstream.gateway._flights == {}  # cleared when the shared read landed


async def test_a_read_after_the_shared_read_landed_calls_again(upstream: Upstream) -> None:
    await upstream.gateway.read_jobs([f"ingest:{OPEN}"])
    await upstream.gateway.read_jobs([f"ingest:{OPEN}"])
    assert upstream.transport.gets(OPEN) == 2


async def test_distinct_ids_are_not_merged_and_new_ids_are_read_in_one_batch(
    upstream: Upstream,
) -> None:
    held = upstream.transport.hold("GET", f"{JOBS}/{OPEN}")
    first = read(upstream.gateway, OPEN, ACCOUNT)
    await held.until_arrived()
    second = read(upstream.gateway, LEAD, OPEN, "7505e000000NOPEAAW")  # one unknown id
    third = read(upstream.gateway, ACCOUNT)  # joins: the first batch is in flight till OPEN lands
    await settle()
    held.release.set()
    a, b, c = await first, await second, await third
    assert [job(x).native_id for x in a] == [OPEN, ACCOUNT]
    assert [job(b[0]).native_id, job(b[1]).native_id, b[2]] == [LEAD, OPEN, None]
    assert job(c[0]).native_id == ACCOUNT
    assert upstream.transport.gets(OPEN) == 1
    assert upstream.transport.gets(LEAD) == 1
    # The first request's whole list in one call, the second's new ids in one call.
    assert upstream.spy.batches[:2] == [[OPEN, ACCOUNT], [LEAD, "7505e000000NOPEAAW"]]


async def test_reads_while_a_write_is_in_flight_are_not_coalesced(upstream: Upstream) -> None:
    patch = upstream.transport.hold("PATCH", f"{JOBS}/{OPEN}")
    write = asyncio.create_task(
        upstream.gateway.perform(ActionRequest(JobAction.CLOSE), [f"ingest:{OPEN}"])
    )
    await patch.until_arrived()
    assert upstream.gateway._writing == {("ingest", OPEN): 1}
    before = upstream.transport.gets(OPEN)  # the adapter's own check before writing
    get = upstream.transport.hold("GET", f"{JOBS}/{OPEN}", times=2)
    first, second = read(upstream.gateway, OPEN), read(upstream.gateway, OPEN)
    await get.until_arrived(2)  # each read went upstream on its own
    assert upstream.gateway._flights == {}  # and neither offered itself to be joined
    patch.release.set()
    [outcome] = await write
    assert job(outcome).provider_status == "UploadComplete"
    assert upstream.gateway._writing == {}
    get.release.set()
    await first, await second
    assert upstream.transport.gets(OPEN) == before + 2


async def test_a_read_after_a_write_does_not_join_a_read_begun_before_it(
    upstream: Upstream,
) -> None:
    get = upstream.transport.hold("GET", f"{JOBS}/{OPEN}")  # only the first GET is held
    stale = read(upstream.gateway, OPEN)
    await get.until_arrived()
    [outcome] = await upstream.gateway.perform(ActionRequest(JobAction.CLOSE), [f"ingest:{OPEN}"])
    assert job(outcome).provider_status == "UploadComplete"
    [fresh] = await read(upstream.gateway, OPEN)  # answered while the older read is held
    assert job(fresh).provider_status == "UploadComplete"
    assert not stale.done()
    get.release.set()
    await stale
    assert upstream.gateway._flights == {}


async def test_a_read_that_starts_during_a_write_is_not_joined_after_it(
    upstream: Upstream,
) -> None:
    patch = upstream.transport.hold("PATCH", f"{JOBS}/{OPEN}")
    write = asyncio.create_task(
        upstream.gateway.perform(ActionRequest(JobAction.CLOSE), [f"ingest:{OPEN}"])
    )
    await patch.until_arrived()
    get = upstream.transport.hold("GET", f"{JOBS}/{OPEN}")
    during = read(upstream.gateway, OPEN)
    await get.until_arrived()
    patch.release.set()
    await write
    [after] = await read(upstream.gateway, OPEN)
    assert job(after).provider_status == "UploadComplete"
    assert not during.done()
    get.release.set()
    await during


@pytest.mark.parametrize("cancelled", ["starter", "joiner"])
async def test_cancelling_one_waiter_does_not_cancel_the_other(
    upstream: Upstream, cancelled: str
) -> None:
    held = upstream.transport.hold("GET", f"{JOBS}/{OPEN}")
    starter = read(upstream.gateway, OPEN)
    await held.until_arrived()
    joiner = read(upstream.gateway, OPEN)
    await settle()
    gone, left = (starter, joiner) if cancelled == "starter" else (joiner, starter)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    held.release.set()
    [answer] = await left
    assert job(answer).native_id == OPEN
    # The starter's read went with it: whoever had joined it read the job again.
    assert upstream.transport.gets(OPEN) == (2 if cancelled == "starter" else 1)
    assert upstream.gateway._flights == {}


async def test_a_read_whose_request_went_away_leaves_nothing_behind(upstream: Upstream) -> None:
    held = upstream.transport.hold("GET", f"{JOBS}/{OPEN}")
    starter = read(upstream.gateway, OPEN)
    await held.until_arrived()
    [(landing, _)] = upstream.gateway._flights.values()
    starter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starter
    assert landing.cancelled() and upstream.gateway._flights == {}
    held.release.set()
    [answer] = await upstream.gateway.read_jobs([f"ingest:{OPEN}"])  # a new read, its own call
    assert job(answer).native_id == OPEN
    assert upstream.transport.gets(OPEN) == 2


async def test_scoped_views_share_the_reads_in_flight(upstream: Upstream) -> None:
    base = upstream.gateway
    alice = base.scoped(Principal("alice", frozenset({READ}), sources=frozenset({"ingest"})))
    bob = base.scoped(Principal("bob", frozenset({READ}), sources=frozenset({"ingest", "x"})))
    assert alice is not base and bob is not base
    for view in (alice, bob):
        assert view._flights is base._flights
        assert view._writing is base._writing
    held = upstream.transport.hold("GET", f"{JOBS}/{OPEN}")
    first = read(alice, OPEN)
    await held.until_arrived()
    second, third = read(bob, OPEN), read(base, OPEN)
    await settle()
    held.release.set()
    answers = [await first, await second, await third]
    assert {job(a).native_id for [a] in answers} == {OPEN}
    assert upstream.transport.gets(OPEN) == 1


async def test_a_write_through_a_view_stops_coalescing_everywhere(upstream: Upstream) -> None:
    base = upstream.gateway
    view = base.scoped(Principal("w", frozenset({READ}), sources=frozenset({"ingest"})))
    patch = upstream.transport.hold("PATCH", f"{JOBS}/{OPEN}")
    write = asyncio.create_task(view.perform(ActionRequest(JobAction.CLOSE), [f"ingest:{OPEN}"]))
    await patch.until_arrived()
    assert base._writing == {("ingest", OPEN): 1}
    patch.release.set()
    await write
    assert base._writing == {}


async def test_coalesce_reads_off_reads_every_time() -> None:
    async with data_cloud(coalesce_reads={"ingest": False}) as upstream:
        held = upstream.transport.hold("GET", f"{JOBS}/{OPEN}", times=2)
        first, second = read(upstream.gateway, OPEN), read(upstream.gateway, OPEN)
        await held.until_arrived(2)
        held.release.set()
        [a], [b] = await first, await second
        assert job(a).native_id == job(b).native_id == OPEN
        assert upstream.transport.gets(OPEN) == 2
        assert upstream.gateway._flights == {}


async def test_coalesced_reads_are_counted(upstream: Upstream) -> None:
    before = coalesced()
    held = upstream.transport.hold("GET", f"{JOBS}/{OPEN}")
    first = read(upstream.gateway, OPEN, ACCOUNT)
    await held.until_arrived()
    joiners = [read(upstream.gateway, OPEN), read(upstream.gateway, LEAD, OPEN)]
    await settle()
    held.release.set()
    await asyncio.gather(first, *joiners)
    assert coalesced() - before == 2
    await upstream.gateway.read_jobs([f"ingest:{OPEN}"])  # alone: nothing joined
    assert coalesced() - before == 2


class Failing:
    """A provider whose read raises (providers should not: it stands for a bug)."""

    source = "ingest"
    provider = DATA_CLOUD

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    @property
    def rules(self) -> StateTable:
        raise NotImplementedError

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        self.calls += 1
        await self.release.wait()
        raise RuntimeError("adapter bug")

    async def perform(
        self, request: ActionRequest, native_ids: Sequence[str]
    ) -> list[ActionOutcome]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


@pytest.fixture
async def loop_errors() -> AsyncIterator[list[dict[str, Any]]]:
    """What the event loop would report (e.g. "Task exception was never retrieved")."""
    found: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda loop, context: found.append(context))
    yield found
    loop.set_exception_handler(None)


async def test_an_unexpected_exception_reaches_every_waiter(
    loop_errors: list[dict[str, Any]],
) -> None:
    failing = Failing()
    gateway = Gateway({"ingest": failing})
    first = read(gateway, OPEN)
    await settle()
    second = read(gateway, OPEN)
    await settle()
    failing.release.set()
    for waiter in (first, second):
        with pytest.raises(RuntimeError, match="adapter bug"):
            await waiter
    assert failing.calls == 1
    assert gateway._flights == {}
    gc.collect()
    assert loop_errors == []


async def test_an_unexpected_exception_nobody_awaits_is_not_reported(
    loop_errors: list[dict[str, Any]],
) -> None:
    failing = Failing()
    gateway = Gateway({"ingest": failing})
    starter = read(gateway, OPEN)
    await settle()
    joiner = read(gateway, OPEN)
    await settle()
    [(task, _)] = gateway._flights.values()
    for waiter in (starter, joiner):
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    failing.release.set()
    await asyncio.wait([task])
    await settle()
    del task
    gc.collect()
    assert gateway._flights == {}
    assert loop_errors == []


def test_coalesce_reads_config_key() -> None:
    def source(**keys: Any) -> Any:
        table = {"provider": "data-cloud", "base_url": "https://x.test", "token": "t", **keys}
        return parse_settings({"sources": {"ingest": table}}, "jobgate.toml", {}).sources["ingest"]

    assert source().coalesce_reads is True
    assert source(coalesce_reads=False).coalesce_reads is False
    for wrong in ("false", 0):
        with pytest.raises(ConfigError) as refused:
            source(coalesce_reads=wrong)
        assert str(refused.value) == (
            "jobgate.toml: [sources.ingest] coalesce_reads: must be true or false"
        )
