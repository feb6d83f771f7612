"""searchJobs' contract, over every provider and its simulator: pages tile the whole set (also
while jobs change between pages), filters, cursors, failures, bounds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from jobgate.domain import ErrorCode, Job, JobAction, JobStatus
from jobgate.domain.listing import JobFilter
from jobgate.listing import Connection, Cursors, InvalidCursor, Lister
from jobgate.providers.base import JobProvider
from jobgate.simulators.faults import Fault, FaultyTransport
from jobgate.simulators.suite import SimulatedVendor
from tests.contract.cases import CASES, ProviderCase
from tests.harness import adapter, vendor

pytestmark = pytest.mark.parametrize("case", CASES, ids=str)

JOBS = 23  # not a multiple of the page sizes below


def populated(case: ProviderCase, count: int = JOBS) -> tuple[SimulatedVendor, list[str]]:
    """An empty simulator given ``count`` jobs, cycling through every state it can make."""
    sim = vendor(case.provider, seeded=False)
    scenarios = case.simulator.SCENARIOS
    ids = [case.simulator.create_in(sim.store, scenarios[i % len(scenarios)]) for i in range(count)]
    return sim, ids


def lister() -> Lister:
    return Lister(Cursors(b"k" * 32), listing={})


async def pages(
    provider: JobProvider,
    job_filter: JobFilter,
    first: int,
) -> AsyncIterator[Connection]:
    """Every page of a listing over one source, following endCursor."""
    listing, after = lister(), None
    for _ in range(100):
        page = await listing.search({provider.source: provider}, job_filter, first, after)
        yield page
        if not page.has_next_page:
            return
        after = page.end_cursor
    raise AssertionError("the listing did not end")


async def listed(provider: JobProvider, job_filter: JobFilter, first: int) -> list[Job]:
    found: list[Job] = []
    async for page in pages(provider, job_filter, first):
        assert page.source_errors == [], page.source_errors
        found += [edge.job for edge in page.edges]
    return found


async def test_pages_tile_the_whole_set(case: ProviderCase) -> None:
    sim, ids = populated(case)
    async with adapter(sim) as (provider, faults):
        found = await listed(provider, JobFilter(), first=5)
        calls = faults.calls(case.list_method, case.list_path)
    native = [job.native_id for job in found]
    assert sorted(native) == sorted(ids)  # every job, none twice
    assert all(job.provider is case.provider for job in found)
    # Five pages of five: one list call each (and one more may find the end).
    assert calls <= 6


async def test_pages_tile_while_jobs_change_between_them(case: ProviderCase) -> None:
    """Jobs already listed are changed (their state moves on) between pages: what stayed in
    the set is listed exactly once."""
    sim, ids = populated(case)
    changed: list[str] = []
    seen: list[str] = []
    async with adapter(sim) as (provider, _):
        listing, after = lister(), None
        for _ in range(50):
            page = await listing.search({provider.source: provider}, JobFilter(), 4, after)
            seen += [edge.job.native_id for edge in page.edges]
            await _change_one(case, sim, provider, [e.job for e in page.edges], changed)
            if not page.has_next_page:
                break
            after = page.end_cursor
    assert sorted(seen) == sorted(ids)
    assert changed, "no listed job accepted a change"


@pytest.mark.parametrize("first", [2, 3])
async def test_a_filtered_listing_survives_jobs_leaving_it_between_pages(
    case: ProviderCase, first: int
) -> None:
    """Filtered by a status the vendor may filter itself, the last job of each page leaves the
    set before the next page: the vendor's positions shift, yet no job that stayed is skipped
    and none is listed twice."""
    sim, ids = populated(case, 30)
    async with adapter(sim) as (provider, _):
        [*before] = await provider.read_jobs(ids)
        jobs = [j for j in before if isinstance(j, Job)]
        status = _changeable_status(case, jobs)
        wanted = JobFilter(statuses=frozenset({status}))
        listing, after, seen, left = lister(), None, [], []
        for _ in range(50):
            page = await listing.search({provider.source: provider}, wanted, first, after)
            seen += [edge.job.native_id for edge in page.edges]
            await _change_one(case, sim, provider, [e.job for e in page.edges][-1:], left)
            if not page.has_next_page:
                break
            after = page.end_cursor
        [*after_all] = await provider.read_jobs(ids)
    stayed = {j.native_id for j in after_all if isinstance(j, Job) and j.status is status} - set(
        left
    )
    assert left, "no listed job left the filtered set"
    assert len(seen) == len(set(seen)), "a job was listed twice"
    assert stayed <= set(seen), f"skipped: {stayed - set(seen)}"
    assert {j.native_id for j in jobs if j.status is status} == set(seen)


def _changeable_status(case: ProviderCase, jobs: list[Job]) -> JobStatus:
    """The status with the most jobs that accept an action moving them out of it (a delete
    removes the job, an update keeps its status)."""
    counts: dict[JobStatus, int] = {}
    for job in jobs:
        if job.allowed_actions - {JobAction.DELETE, JobAction.UPDATE}:
            counts[job.status] = counts.get(job.status, 0) + 1
    return max(counts, key=lambda s: counts[s])


async def _change_one(
    case: ProviderCase,
    sim: SimulatedVendor,
    provider: JobProvider,
    candidates: list[Job],
    changed: list[str],
) -> None:
    for job in candidates:
        for action in sorted(job.allowed_actions - {JobAction.DELETE}, key=lambda a: a.value):
            request = case.request_for(action, sim.store, job.native_id)
            request = replace(request, batch=action in case.rules.batch)
            [outcome] = await provider.perform(request, [job.native_id])
            if isinstance(outcome, Job) and outcome.status is not job.status:
                changed.append(job.native_id)
                return


async def test_a_status_filter_lists_exactly_the_jobs_with_that_status(
    case: ProviderCase,
) -> None:
    sim, ids = populated(case)
    async with adapter(sim) as (provider, _):
        everything = [j for j in await provider.read_jobs(ids) if isinstance(j, Job)]
        statuses = sorted({j.status for j in everything}, key=lambda s: s.value)
        for status in statuses:
            found = await listed(provider, JobFilter(statuses=frozenset({status})), first=7)
            expected = {j.native_id for j in everything if j.status is status}
            assert {j.native_id for j in found} == expected, status
            assert len(found) == len(expected)
        both = frozenset(statuses[:2])
        found = await listed(provider, JobFilter(statuses=both), first=50)
        assert {j.native_id for j in found} == {j.native_id for j in everything if j.status in both}
        none = await listed(provider, JobFilter(statuses=frozenset({JobStatus.SUSPENDED})), 5)
        assert {j.native_id for j in none} == {
            j.native_id for j in everything if j.status is JobStatus.SUSPENDED
        }


async def test_updated_since_lists_changed_jobs_or_says_it_cannot(case: ProviderCase) -> None:
    sim, ids = populated(case, 6)
    since = datetime(2000, 1, 1, tzinfo=UTC)
    later = datetime(2999, 1, 1, tzinfo=UTC)
    async with adapter(sim) as (provider, _):
        listing = lister()
        source = {provider.source: provider}
        everything = await listing.search(source, JobFilter(updated_since=since), 50, None)
        nothing = await listing.search(source, JobFilter(updated_since=later), 50, None)
        combined = JobFilter(updated_since=since, statuses=frozenset({JobStatus.OPEN}))
        open_ones = await listing.search(source, combined, 50, None)
    if provider.knows_update_times:
        assert sorted(e.job.native_id for e in everything.edges) == sorted(ids)
        assert nothing.edges == [] and not nothing.has_next_page
        assert all(e.job.status is JobStatus.OPEN for e in open_ones.edges)
        assert all(e.job.updated_at is not None for e in everything.edges)
    else:
        for page in (everything, nothing, open_ones):
            assert page.edges == []
            [problem] = page.source_errors
            assert problem.error.code is ErrorCode.UNSUPPORTED_ACTION


async def test_a_failing_list_call_is_a_source_error_with_the_contract_code(
    case: ProviderCase,
) -> None:
    sim, _ = populated(case, 5)
    for status, code in (
        (503, ErrorCode.UPSTREAM_UNAVAILABLE),
        (429, ErrorCode.RATE_LIMITED),
        (403, ErrorCode.FORBIDDEN),
        (401, ErrorCode.UNAUTHENTICATED),
    ):
        async with adapter(sim, retries=0) as (provider, faults):
            _fail_lists(faults, case, status)
            page = await lister().search({provider.source: provider}, JobFilter(), 5, None)
        assert page.edges == [] and not page.has_next_page
        [problem] = page.source_errors
        assert problem.source == provider.source
        assert problem.error.code is code, problem.error


async def test_a_list_call_past_its_timeout_is_upstream_timeout(case: ProviderCase) -> None:
    sim, _ = populated(case, 3)
    async with adapter(sim, retries=0, timeout=0.2) as (provider, faults):
        faults.add(Fault(case.list_method, case.list_path, "delay", delay=1.0, times=-1))
        page = await lister().search({provider.source: provider}, JobFilter(), 5, None)
    [problem] = page.source_errors
    assert problem.error.code is ErrorCode.UPSTREAM_TIMEOUT, problem.error


def _fail_lists(faults: FaultyTransport, case: ProviderCase, status: int) -> None:
    headers = {"Retry-After": "1"} if status == 429 else {}
    faults.add(
        Fault(case.list_method, case.list_path, "status", status=status, headers=headers, times=-1)
    )


async def test_cursors_are_refused_when_tampered_foreign_or_garbage(case: ProviderCase) -> None:
    sim, _ = populated(case, 8)
    async with adapter(sim) as (provider, faults):
        listing, source = lister(), {provider.source: provider}
        page = await listing.search(source, JobFilter(), 3, None)
        assert page.end_cursor is not None
        before = sum(faults.delivered.values())
        cursor = page.end_cursor
        body, _, mac = cursor.partition(".")
        tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
        other_filter = JobFilter(statuses=frozenset({JobStatus.OPEN}))
        other_key = Lister(Cursors(b"z" * 32), listing={})
        for bad, chosen, by in (
            ("garbage", JobFilter(), listing),
            ("", JobFilter(), listing),
            ("a.b.c", JobFilter(), listing),
            ("é.é", JobFilter(), listing),
            ("x" * 5000, JobFilter(), listing),
            (tampered, JobFilter(), listing),
            (cursor, other_filter, listing),
            (cursor, JobFilter(), other_key),
        ):
            with pytest.raises(InvalidCursor):
                await by.search(source, chosen, 3, bad or "!")
        assert sum(faults.delivered.values()) == before, "a refused cursor reached the upstream"
        # The genuine cursor still works.
        again = await listing.search(source, JobFilter(), 3, cursor)
        assert len(again.edges) == 3
        assert not {e.job.native_id for e in again.edges} & {e.job.native_id for e in page.edges}


async def test_a_cursor_for_one_source_is_refused_by_a_filter_without_it(
    case: ProviderCase,
) -> None:
    sim, _ = populated(case, 4)
    async with adapter(sim) as (provider, faults):
        listing, source = lister(), {provider.source: provider}
        named = JobFilter(sources=(provider.source,))
        page = await listing.search(source, named, 2, None)
        assert page.end_cursor is not None
        before = sum(faults.delivered.values())
        with pytest.raises(InvalidCursor):
            await listing.search(source, JobFilter(sources=("elsewhere",)), 2, page.end_cursor)
        assert sum(faults.delivered.values()) == before


async def test_a_source_with_listing_off_is_skipped_unless_named(case: ProviderCase) -> None:
    sim, _ = populated(case, 3)
    async with adapter(sim) as (provider, faults):
        listing = Lister(Cursors(b"k" * 32), listing={provider.source: False})
        source = {provider.source: provider}
        quiet = await listing.search(source, JobFilter(), 5, None)
        named = await listing.search(source, JobFilter(sources=(provider.source,)), 5, None)
        calls = faults.calls(case.list_method, case.list_path)
    assert quiet.edges == [] and quiet.source_errors == [] and not quiet.has_next_page
    [problem] = named.source_errors
    assert problem.error.code is ErrorCode.UNSUPPORTED_ACTION and named.edges == []
    assert calls == 0


async def test_listed_jobs_equal_the_jobs_read_by_id(case: ProviderCase) -> None:
    """A listed job is a full job: the same status, actions and kind of details a read gives
    (Data Cloud's job-info read adds contentUrl, retries and totalProcessingTime to what its
    list shows, so the details themselves may differ)."""
    sim, ids = populated(case, 12)
    async with adapter(sim) as (provider, _):
        found = {j.native_id: j for j in await listed(provider, JobFilter(), first=12)}
        read = await provider.read_jobs(ids)
    for job in read:
        assert isinstance(job, Job), job
        listed_job = found[job.native_id]
        assert replace(listed_job, details=job.details) == job
        assert type(listed_job.details) is type(job.details)
