"""Live updates: who watches which job, one poll per job per interval, events to every watcher.

A ``Watcher`` keeps, per job id, the subscriptions watching it and what it looked like last. One
poller per source reads every watched job of that source once per ``poll_interval`` (in one
batch, through the gateway's reads), however many subscriptions watch it, and sends an
``Update`` to each watcher of a job whose status, provider status, allowed actions or details
changed. A change made through this gateway's own mutations is sent at once (``changed``). A
job that is gone gives one NOT_FOUND update and is watched no more. A failing source slows its
poll down (doubling, with jitter, up to ``MAX_BACKOFF`` intervals) and its jobs' watchers get
one error update per job and error, then normal updates again once reads succeed.

Each subscription holds a bounded queue: a watcher that does not keep up is closed with an
error instead of letting memory grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from jobgate.domain import AlreadyApplied, Deleted, ErrorCode, Job, JobError
from jobgate.domain.actions import ActionOutcome

log = logging.getLogger("jobgate.watch")

Answer: TypeAlias = Job | JobError | None
Reader = Callable[[Sequence[str]], Awaitable[list[Answer]]]


class Shared(Protocol):
    """Replicas that share their polls (``jobgate.fleet``): leases per job, and a channel."""

    async def claim(self, job_ids: Sequence[str], ttl: float) -> list[str]: ...

    async def release(self, job_ids: Sequence[str]) -> None: ...

    async def publish(self, job_id: str, answer: Any) -> None: ...

    def listen(self, deliver: Callable[[str, Any], None]) -> None: ...


DEFAULT_INTERVAL = 5.0
MAX_BACKOFF = 8  # a failing source is polled at most this many intervals apart
QUEUE_SIZE = 64  # updates a subscription may fall behind before it is closed
LEASE_INTERVALS = 3  # a replica's lease on a job outlives this many of its poll intervals


@dataclass(frozen=True, slots=True)
class Update:
    id: str
    job: Job | None = None
    error: JobError | None = None


def _looks(job: Job) -> tuple[Any, ...]:
    """What a watcher is told about when it changes."""
    return (job.status, job.provider_status, job.allowed_actions, job.details)


class TooSlow(Exception):
    """The subscription fell ``QUEUE_SIZE`` updates behind and was closed."""


@dataclass(eq=False)
class Subscription:
    """One ``jobUpdated`` subscription: its jobs and the updates not yet sent."""

    ids: frozenset[str]
    queue: asyncio.Queue[Update | None] = field(
        default_factory=lambda: asyncio.Queue(maxsize=QUEUE_SIZE)
    )
    overflowed: bool = False

    def offer(self, update: Update | None) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()  # room for the wake-up that ends it
            self.queue.put_nowait(None)

    def close(self) -> None:
        """End the stream after what is queued (the gateway is shutting down)."""
        if self.overflowed:
            return
        if self.queue.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def updates(self) -> AsyncIterator[Update]:
        while True:
            update = await self.queue.get()
            if update is None:
                if self.overflowed:
                    raise TooSlow(
                        f"This subscription fell {QUEUE_SIZE} updates behind and was closed; "
                        "subscribe again to get every job's current state."
                    )
                return
            yield update


@dataclass
class _Watched:
    subscriptions: set[Subscription] = field(default_factory=set)
    last: tuple[Any, ...] | None = None
    failing: ErrorCode | None = None  # the error its watchers were told about, if any


class Watcher:
    def __init__(
        self,
        read: Reader,
        *,
        intervals: Mapping[str, float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        fleet: Shared | None = None,
    ) -> None:
        self._read = read
        self._fleet = fleet
        self._tasks: set[asyncio.Task[None]] = set()  # publications and releases in flight
        if fleet is not None:
            fleet.listen(self._delivered)
        self._intervals = dict(intervals or {})
        self._sleep = sleep
        self._jobs: dict[str, _Watched] = {}
        self._pollers: dict[str, asyncio.Task[None]] = {}
        self._subscriptions: set[Subscription] = set()
        self.polls = 0  # upstream read batches made, for tests and the bench
        self.closed = False

    @property
    def watched(self) -> int:
        return len(self._jobs)

    async def subscribe(self, ids: Sequence[str]) -> Subscription:
        """Watch ``ids`` (already valid for the caller); their current state is queued first."""
        subscription = Subscription(frozenset(ids))
        self._subscriptions.add(subscription)
        for job_id in subscription.ids:
            self._jobs.setdefault(job_id, _Watched()).subscriptions.add(subscription)
        answers = await self._read(list(ids))
        for job_id, answer in zip(ids, answers, strict=True):
            watched = self._jobs.get(job_id)
            if watched is None or subscription not in watched.subscriptions:
                continue  # gone already
            self._first(job_id, watched, answer, subscription)
        for source in {job_id.partition(":")[0] for job_id in subscription.ids}:
            self._ensure_poller(source)
        return subscription

    def _first(
        self, job_id: str, watched: _Watched, answer: Answer, subscription: Subscription
    ) -> None:
        if isinstance(answer, Job):
            watched.last = watched.last or _looks(answer)
            subscription.offer(Update(job_id, job=answer))
        elif answer is None:
            subscription.offer(Update(job_id, error=_gone(job_id)))
            self._forget(job_id, subscription)
        else:
            subscription.offer(Update(job_id, error=answer))

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)
        for job_id in subscription.ids:
            self._forget(job_id, subscription)

    def _forget(self, job_id: str, subscription: Subscription) -> None:
        watched = self._jobs.get(job_id)
        if watched is None:
            return
        watched.subscriptions.discard(subscription)
        if not watched.subscriptions:
            del self._jobs[job_id]
            if self._fleet is not None:  # another replica may take the job's polls over now
                self._later(self._fleet.release([job_id]))

    def outcome(self, outcome: ActionOutcome) -> None:
        """A mutation's confirmed outcome: its job's watchers hear of it now, not at the next
        poll (a refusal changed nothing)."""
        if isinstance(outcome, AlreadyApplied):
            outcome = outcome.outcome
        if isinstance(outcome, Job):
            self._share(outcome.id, outcome)
        elif isinstance(outcome, Deleted):
            self._share(f"{outcome.source}:{outcome.native_id}", None)

    def _share(self, job_id: str, answer: Answer) -> None:
        """Tell this replica's watchers, and the other replicas, of what was just learnt."""
        self._seen(job_id, answer)
        if self._fleet is not None:
            self._later(self._fleet.publish(job_id, answer))

    def _delivered(self, job_id: str, answer: Any) -> None:
        """Another replica's news: only domain answers are taken."""
        if answer is None or isinstance(answer, Job | JobError):
            self._seen(job_id, answer)

    def _later(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run(), context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _seen(self, job_id: str, answer: Answer) -> bool:
        """Tell the job's watchers if it changed; whether it did (or it is gone)."""
        watched = self._jobs.get(job_id)
        if watched is None:
            return answer is None
        if answer is None:
            for subscription in list(watched.subscriptions):
                subscription.offer(Update(job_id, error=_gone(job_id)))
            del self._jobs[job_id]
            return True
        if isinstance(answer, JobError):
            if watched.failing is answer.code:
                return False
            watched.failing = answer.code
            for subscription in watched.subscriptions:
                subscription.offer(Update(job_id, error=answer))
            return True
        looks = _looks(answer)
        if looks == watched.last and watched.failing is None:
            return False
        watched.last, watched.failing = looks, None
        for subscription in watched.subscriptions:
            subscription.offer(Update(job_id, job=answer))
        return True

    def _ensure_poller(self, source: str) -> None:
        if self.closed or (source in self._pollers and not self._pollers[source].done()):
            return
        # A context of its own: not the deadline or request id of the request that started it.
        self._pollers[source] = asyncio.create_task(
            self._poll(source), name=f"poll {source}", context=contextvars.Context()
        )

    async def _poll(self, source: str) -> None:
        interval = self._intervals.get(source, DEFAULT_INTERVAL)
        backoff, busy = 1, 0.0
        loop = asyncio.get_running_loop()
        while not self.closed:
            wait = interval * backoff * (random.uniform(0.8, 1.2) if backoff > 1 else 1)
            await self._sleep(max(0.0, wait - busy))  # one poll per interval, however long it takes
            started = loop.time()
            ids = [j for j in self._jobs if j.partition(":")[0] == source]
            if not ids:
                return  # nothing to watch: started again by the next subscription
            if self._fleet is not None:  # the jobs no other replica polls
                ids = await self._fleet.claim(ids, ttl=interval * LEASE_INTERVALS)
                if not ids:
                    busy = loop.time() - started
                    continue
            try:
                answers = await self._read(ids)
            except Exception:  # a bug must not end live updates for the whole source
                log.exception("poll failed", extra={"source": source})
                answers = [JobError(ErrorCode.UPSTREAM_UNAVAILABLE, "The poll failed.")] * len(ids)
            self.polls += 1
            for job_id, answer in zip(ids, answers, strict=True):
                if self._seen(job_id, answer) and self._fleet is not None:
                    self._later(self._fleet.publish(job_id, answer))
            failed = all(isinstance(a, JobError) for a in answers)
            backoff = min(backoff * 2, MAX_BACKOFF) if failed else 1
            busy = loop.time() - started

    def end_streams(self) -> None:
        """End every subscription: their streams complete after what is queued."""
        self.closed = True
        for subscription in list(self._subscriptions):
            subscription.close()

    async def aclose(self) -> None:
        """End every subscription and stop polling."""
        self.end_streams()
        pollers = list(self._pollers.values())
        for task in pollers:
            task.cancel()
        await asyncio.gather(*pollers, *self._tasks, return_exceptions=True)


def _gone(job_id: str) -> JobError:
    return JobError(ErrorCode.NOT_FOUND, f"Job '{job_id}' does not exist (any more).")
