"""The Watcher on its own: bounded queues, backoff after failures, one read per poll."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from jobgate.domain import ErrorCode, Job, JobError, JobStatus
from jobgate.domain.data_cloud import DATA_CLOUD, DataCloudDetails
from jobgate.watch import QUEUE_SIZE, Subscription, TooSlow, Update, Watcher


def job(native_id: str, state: str = "Open") -> Job:
    details = DataCloudDetails(
        object="Contact", operation="upsert", source_name=None, content_type=None,
        api_version=None, created_by_id=None, created_date=None, system_modstamp=None,
        content_url=None, retries=None, total_processing_time=None,
    )  # fmt: skip
    return Job("ingest", native_id, DATA_CLOUD, JobStatus.OPEN, state, frozenset(), details)


class Upstream:
    """What the gateway's reads answer, per job id; records each batch it is asked."""

    def __init__(self) -> None:
        self.answers: dict[str, Job | JobError | None] = {}
        self.batches: list[list[str]] = []

    async def read(self, ids: Sequence[str]) -> list[Job | JobError | None]:
        self.batches.append(list(ids))
        return [self.answers.get(i) for i in ids]


class Clock:
    """A sleep the test advances by hand; records how long each poll waited."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.tick = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        await self.tick.wait()
        self.tick.clear()

    async def step(self) -> None:
        self.tick.set()
        for _ in range(10):
            await asyncio.sleep(0)


async def test_a_subscriber_that_falls_behind_is_closed_with_a_clear_error() -> None:
    subscription = Subscription(frozenset({"ingest:1"}))
    for n in range(QUEUE_SIZE + 5):
        subscription.offer(Update("ingest:1", job=job("1", f"s{n}")))
    assert subscription.queue.qsize() <= QUEUE_SIZE
    received = []
    with pytest.raises(TooSlow):
        async for update in subscription.updates():
            received.append(update)
    assert len(received) == QUEUE_SIZE - 1


async def test_many_subscriptions_one_read_per_poll_and_backoff_on_failure() -> None:
    upstream, clock = Upstream(), Clock()
    upstream.answers["ingest:1"] = job("1")
    watcher = Watcher(upstream.read, intervals={"ingest": 2.0}, sleep=clock.sleep)
    subscriptions = [await watcher.subscribe(["ingest:1"]) for _ in range(20)]
    upstream.batches.clear()
    await clock.step()
    assert upstream.batches == [["ingest:1"]]  # one read for twenty watchers
    upstream.answers["ingest:1"] = JobError(ErrorCode.UPSTREAM_UNAVAILABLE, "down")
    for _ in range(3):
        await clock.step()
    assert clock.waits[:2] == [2.0, pytest.approx(2.0, abs=0.05)]  # less the poll's own time
    assert 2.0 * 2 * 0.8 <= clock.waits[2] <= 2.0 * 2 * 1.2  # doubled, with jitter
    assert 2.0 * 4 * 0.8 <= clock.waits[3] <= 2.0 * 4 * 1.2
    upstream.answers["ingest:1"] = job("1")
    await clock.step()
    for subscription in subscriptions:
        kinds = []
        while not subscription.queue.empty():
            update = subscription.queue.get_nowait()
            assert update is not None
            kinds.append("job" if update.job else update.error.code.value)  # type: ignore[union-attr]
        assert kinds == ["job", "UPSTREAM_UNAVAILABLE", "job"]  # the error once, then recovery
    await watcher.aclose()


async def test_closing_ends_every_stream() -> None:
    upstream = Upstream()
    upstream.answers["ingest:1"] = job("1")
    watcher = Watcher(upstream.read, intervals={"ingest": 60})
    subscription = await watcher.subscribe(["ingest:1"])
    await watcher.aclose()
    updates = [u async for u in subscription.updates()]
    assert [u.id for u in updates] == ["ingest:1"]
