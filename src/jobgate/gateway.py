"""The provider-neutral service behind the schema: route ids to sources, batch, de-duplicate.

Reads are de-duplicated within a request (one upstream read per distinct id) and across the
requests in flight ("single flight"): a read of a job whose read another request already started
joins that read instead of calling the upstream again. A read never joins one that started before
a write to the same job finished: see ``read_jobs`` and ``perform``.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Mapping, Sequence
from typing import TypeAlias, TypeVar

from jobgate.domain import ActionOutcome, ActionRequest, Job, JobError, JobId, parse_job_id
from jobgate.domain.errors import ErrorCode
from jobgate.domain.ids import MAX_ID_LENGTH
from jobgate.domain.listing import JobFilter
from jobgate.domain.principal import Principal
from jobgate.listing import Connection, Cursors, Lister
from jobgate.metrics import metrics
from jobgate.providers.base import JobProvider
from jobgate.providers.fanout import gather_all
from jobgate.telemetry import coalesced_span

Answer: TypeAlias = Job | JobError | None
Key: TypeAlias = tuple[str, str]  # (source, native id)
# One shared upstream read: the future its answers land in (a batch of one source's ids, read
# by the request that started it), and a key's place in it.
Flight: TypeAlias = tuple[asyncio.Future[list[Answer]], int]


class Gateway:
    def __init__(
        self,
        providers: Mapping[str, JobProvider],
        *,
        coalesce_reads: Mapping[str, bool] | None = None,
        lister: Lister | None = None,
    ) -> None:
        """``coalesce_reads``: per source, whether concurrent reads of a job share one upstream
        read (``[sources.<name>] coalesce_reads``); a source not named there does."""
        self.providers = dict(providers)
        self.lister = lister or Lister(Cursors.keyed(None), listing={})
        # Told every outcome of a change (live updates: jobgate.watch), shared by every view.
        self.outcome_listeners: list[Callable[[ActionOutcome], None]] = []
        self.restricted = False  # a view for a principal limited to some sources
        # Shared by every view scoped() makes (copy.copy keeps these references): reads and
        # writes in flight are the process's, whoever's request started them.
        self._solo_sources = frozenset(s for s, on in (coalesce_reads or {}).items() if not on)
        self._flights: dict[Key, Flight] = {}  # reads that a read of the same key may join
        self._writing: dict[Key, int] = {}  # writes in flight per key

    def scoped(self, principal: Principal) -> Gateway:
        """This gateway as ``principal`` sees it: only its sources (a view; nothing is copied)."""
        if principal.sources is None:
            return self
        view = copy.copy(self)  # shares every provider, the reads and writes in flight
        view.providers = {n: p for n, p in self.providers.items() if principal.may_use(n)}
        view.restricted = True
        return view

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self.providers.values()))

    async def search_jobs(self, job_filter: JobFilter, first: int, after: str | None) -> Connection:
        """One page of ``searchJobs`` over this view's sources (``jobgate.listing``)."""
        return await self.lister.search(
            self.providers, job_filter, first, after, restricted=self.restricted
        )

    def parse(self, raw_id: str) -> JobId | JobError:
        source, colon, _ = raw_id.partition(":")
        if self.restricted and colon and source not in self.providers:
            # Configured elsewhere or not at all: the answer is the same, so that a restricted
            # caller cannot tell which other sources exist. Nothing reaches an upstream.
            if len(raw_id) <= MAX_ID_LENGTH:
                return JobError(ErrorCode.FORBIDDEN, "This job's source is not available to you.")
        return parse_job_id(raw_id, self.providers)

    def _group(self, raw_ids: Sequence[str]) -> tuple[list[JobId | JobError], dict[str, list[str]]]:
        """Parse every id; collect each source's distinct native ids in first-seen order."""
        parsed = [self.parse(raw) for raw in raw_ids]
        by_source: dict[str, dict[str, None]] = {}
        for job_id in parsed:
            if isinstance(job_id, JobId):
                by_source.setdefault(job_id.source, {})[job_id.native_id] = None
        return parsed, {source: list(ids) for source, ids in by_source.items()}

    async def read_jobs(self, raw_ids: Sequence[str]) -> list[Answer]:
        """One upstream read per distinct id, shared with the requests reading it at the same
        time; sources are read concurrently."""
        parsed, by_source = self._group(raw_ids)
        sources = list(by_source)
        answers = await gather_all([self._read_source(s, by_source[s]) for s in sources])
        return _in_order(parsed, by_source, answers)

    async def _read_source(self, source: str, native_ids: list[str]) -> list[Answer]:
        """One source's distinct ids: join the reads in flight, read the others in one call.

        A read runs in the request that started it; its answers land in a future that later
        reads of the same ids wait for. A request that goes away cancels its read, and the
        requests that joined it then read those ids themselves: none is left without an
        answer. (A task per read, which outlived its request, cost ~100,000 CPU instructions
        a read, 16 % of an in-process read: bench/ANALYSIS.md.)
        """
        provider = self.providers[source]
        if source in self._solo_sources:
            return await provider.read_jobs(native_ids)
        flights = self._flights
        joined: list[tuple[int, Flight]] = []
        new_ids: list[str] = []
        new_positions: list[int] = []
        for position, native_id in enumerate(native_ids):
            flight = flights.get((source, native_id))  # never there while a write is in flight
            if flight is None:
                new_ids.append(native_id)
                new_positions.append(position)
            else:
                joined.append((position, flight))
        if not joined:  # the usual case: nothing to share
            return await self._read_new(source, provider, native_ids)
        metrics().upstream_reads_coalesced.labels(source).inc(len(joined))
        answers: list[Answer] = [None] * len(native_ids)
        if new_ids:
            own = await self._read_new(source, provider, new_ids)
            for position, answer in zip(new_positions, own, strict=True):
                answers[position] = answer
        with coalesced_span(source, len(joined)):
            await asyncio.wait({landing for _, (landing, _) in joined})  # never cancels them
        orphans = [(p, native_ids[p]) for p, (landing, _) in joined if landing.cancelled()]
        for position, (landing, index) in joined:
            if not landing.cancelled():
                answers[position] = landing.result()[index]
        if orphans:  # the request reading them went away: read them here
            again = await self._read_new(source, provider, [native for _, native in orphans])
            for (position, _), answer in zip(orphans, again, strict=True):
                answers[position] = answer
        return answers

    async def _read_new(
        self, source: str, provider: JobProvider, native_ids: list[str]
    ) -> list[Answer]:
        """Read ids no read in flight covers, in one call that later reads may join, except for
        the ids being written: their read is this request's alone."""
        writing = self._writing
        open_keys = [
            (index, (source, native_id))
            for index, native_id in enumerate(native_ids)
            if (source, native_id) not in writing
        ]
        if not open_keys:
            return await provider.read_jobs(native_ids)
        landing: asyncio.Future[list[Answer]] = asyncio.get_running_loop().create_future()
        flights = self._flights
        for index, key in open_keys:
            flights[key] = (landing, index)
        try:
            answers = await provider.read_jobs(native_ids)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                landing.cancel()  # whoever joined reads again
            else:
                landing.set_exception(exc)
                landing.exception()  # retrieved, whoever still waits (or none)
            raise
        finally:
            for _, key in open_keys:
                flight = flights.get(key)
                if flight is not None and flight[0] is landing:
                    del flights[key]
        landing.set_result(answers)
        return answers

    async def perform(self, request: ActionRequest, raw_ids: Sequence[str]) -> list[ActionOutcome]:
        """Apply one action to each id; every source gets its distinct ids in one call.

        While a write is in flight its jobs' reads are not shared, and reads in flight when it
        starts or ends are no longer joinable: no read is answered by an upstream read that
        began before a write to its job finished.
        """
        parsed, by_source = self._group(raw_ids)
        calls = list(by_source)  # each provider refuses what its rules do not offer
        written = [(s, n) for s in calls for n in by_source[s]]
        self._begin_writes(written)
        try:
            answers = await gather_all(
                [self.providers[s].perform(request, by_source[s]) for s in calls]
            )
        finally:
            self._end_writes(written)
        outcomes = _in_order(parsed, by_source, answers)
        for listener in self.outcome_listeners:
            for outcome in outcomes:
                listener(outcome)
        return outcomes

    def _begin_writes(self, keys: list[Key]) -> None:
        writing, flights = self._writing, self._flights
        for key in keys:
            writing[key] = writing.get(key, 0) + 1
            flights.pop(key, None)

    def _end_writes(self, keys: list[Key]) -> None:
        writing, flights = self._writing, self._flights
        for key in keys:
            left = writing[key] - 1
            if left:
                writing[key] = left
            else:
                del writing[key]
            flights.pop(key, None)


Found = TypeVar("Found")


def _in_order(
    parsed: Sequence[JobId | JobError],
    by_source: dict[str, list[str]],
    answers: Sequence[Sequence[Found]],
) -> list[Found | JobError]:
    """Each id's answer in the caller's order: ``answers`` holds one list per source (in
    ``by_source``'s order, one answer per distinct native id); a bad id keeps its own error."""
    found: dict[Key, Found] = {}
    for source, answer in zip(by_source, answers, strict=True):
        for native_id, result in zip(by_source[source], answer, strict=True):
            found[source, native_id] = result
    return [
        found[job_id.source, job_id.native_id] if isinstance(job_id, JobId) else job_id
        for job_id in parsed
    ]
