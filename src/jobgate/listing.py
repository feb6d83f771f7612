"""``searchJobs``: one paged listing over every source, in config order, with opaque cursors.

Each source lists in its vendor's order and pages by position. A page is filled from the first
source with jobs left, then the next, asking each vendor for pages (filters pushed down where
the vendor has them, the rest checked here) until ``first`` jobs are found or every source is
done. A cursor holds the place after a job: its source, the vendor position after it, and the
native ids of the last jobs read there (anchors). Jobs that change between pages can leave or
join a filtered vendor list and shift positions; the next page re-reads a few positions before
its place and resumes after the newest anchor it finds, so pages neither repeat nor skip jobs
that stayed in the set. Cursors are signed (HMAC) with the filter they were issued under: a
tampered or foreign cursor is refused before any upstream is asked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from jobgate.domain import ErrorCode, Job, JobError
from jobgate.domain.listing import JobFilter, ListPage, ListQuery
from jobgate.providers.base import JobProvider

SLACK = 5  # positions re-read before a cursor's place, to find its anchors
ANCHORS = 3  # native ids a cursor keeps
MAX_CALLS = 10  # vendor pages one searchJobs reads at most (a rare status in a long list)
MAX_CURSOR_CHARS = 1024
CURSOR_KEY_ENV = "JOBGATE_CURSOR_KEY"  # set by `jobgate serve --workers N` for its workers
_VERSION = 1


class InvalidCursor(ValueError):
    """``after`` was not issued by this gateway for this filter."""


@dataclass(frozen=True, slots=True)
class Place:
    source: str
    offset: int  # vendor position after the last job read
    anchors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Edge:
    cursor: str
    job: Job


@dataclass(frozen=True, slots=True)
class SourceProblem:
    source: str
    error: JobError


@dataclass
class Connection:
    edges: list[Edge] = field(default_factory=list)
    has_next_page: bool = False
    end_cursor: str | None = None
    source_errors: list[SourceProblem] = field(default_factory=list)


class Cursors:
    """Signs and reads cursors: base64url(JSON) "." base64url(HMAC-SHA256, 16 bytes)."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def keyed(cls, secret: str | None) -> Cursors:
        """``[server] cursor_secret``, else the key `jobgate serve` shares among its workers,
        else a key of this process's own."""
        chosen = secret or os.environ.get(CURSOR_KEY_ENV)
        return cls(chosen.encode() if chosen else secrets.token_bytes(32))

    def issue(self, job_filter: JobFilter, place: Place) -> str:
        body = orjson.dumps(
            [_VERSION, _digest(job_filter), place.source, place.offset, list(place.anchors)]
        )
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def read(self, text: str, job_filter: JobFilter) -> Place:
        body = self._verified(text)
        try:
            version, digest, source, offset, anchors = orjson.loads(body)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise InvalidCursor("This cursor is not one this gateway issued.") from None
        if version != _VERSION or digest != _digest(job_filter):
            raise InvalidCursor("This cursor was issued for another filter.")
        if not (
            isinstance(source, str)
            and isinstance(offset, int)
            and offset >= 0
            and isinstance(anchors, list)
            and all(isinstance(a, str) for a in anchors)
        ):
            raise InvalidCursor("This cursor is not one this gateway issued.")
        return Place(source, offset, tuple(anchors[-ANCHORS:]))

    def _verified(self, text: str) -> bytes:
        refused = InvalidCursor("This cursor is not one this gateway issued.")
        if len(text) > MAX_CURSOR_CHARS or text.count(".") != 1:
            raise refused
        encoded, signature = text.split(".")
        try:
            body, mac = _unb64(encoded), _unb64(signature)
        except (binascii.Error, ValueError):
            raise refused from None
        if not hmac.compare_digest(mac, self._sign(body)):
            raise refused
        return body

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]


def _digest(job_filter: JobFilter) -> str:
    text = "\x1f".join(job_filter.digest_parts())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class _Fill:
    """One source's part of a page."""

    jobs: list[tuple[Place, Job]]
    place: Place  # where reading stopped
    exhausted: bool  # the vendor has nothing after ``place``
    calls: int


async def _fill(
    provider: JobProvider,
    job_filter: JobFilter,
    place: Place,
    need: int,
    calls_left: int,
    max_page: int,
) -> _Fill | JobError:
    """Up to ``need`` jobs from ``provider`` that the filter admits, from ``place`` on."""
    found: list[tuple[Place, Job]] = []
    read_from = max(0, place.offset - SLACK) if place.anchors else place.offset
    resume_at, anchors, calls = place.offset - read_from, place.anchors, 0
    while calls < calls_left:
        first_page = calls == 0
        query = ListQuery(
            offset=read_from,
            limit=min(max_page, need - len(found) + resume_at),
            statuses=job_filter.statuses,
            updated_since=job_filter.updated_since,
        )
        page = await provider.list_jobs(query)
        calls += 1
        if isinstance(page, JobError):
            return page
        start = _after_anchors(page, anchors, resume_at) if first_page and anchors else 0
        for index in range(start, len(page.jobs)):
            job = page.jobs[index]
            if job is not None:
                anchors = (*anchors, job.native_id)[-ANCHORS:]
            here = Place(place.source, read_from + index + 1, anchors)
            if job is not None and job_filter.admits(job):
                found.append((here, job))
                if len(found) == need:
                    ended = page.end and index == len(page.jobs) - 1
                    return _Fill(found, here, ended, calls)
        read_from += len(page.jobs)
        stop = Place(place.source, read_from, anchors)
        if page.end or not page.jobs:
            return _Fill(found, stop, True, calls)
        resume_at = 0
    return _Fill(found, Place(place.source, read_from, anchors), False, calls)


def _after_anchors(page: ListPage, anchors: Sequence[str], expected: int) -> int:
    """Where to resume in a page re-read from before the place: after the newest anchor it
    holds, or at the place's own position when none is there any more."""
    index_of = {job.native_id: i for i, job in enumerate(page.jobs) if job is not None}
    for anchor in reversed(anchors):
        if anchor in index_of:
            return index_of[anchor] + 1
    return min(expected, len(page.jobs))


def choose_sources(
    providers: Mapping[str, JobProvider],
    job_filter: JobFilter,
    listing: Mapping[str, bool],
    *,
    restricted: bool,
) -> tuple[list[str], list[SourceProblem]]:
    """The sources to list, in config order, and why any named source is not listed."""
    if job_filter.sources is None:
        return [s for s in providers if listing.get(s, True)], []
    named = set(job_filter.sources)
    problems = []
    for name in dict.fromkeys(job_filter.sources):
        if name not in providers:
            code, why = (
                (ErrorCode.FORBIDDEN, "This source is not available to you.")
                if restricted
                else (ErrorCode.NOT_FOUND, f"No source is named '{name[:64]}'.")
            )
            problems.append(SourceProblem(name[:64], JobError(code, why)))
        elif not listing.get(name, True):
            off = f"Listing is switched off for source '{name}' (listing = false)."
            problems.append(SourceProblem(name, JobError(ErrorCode.UNSUPPORTED_ACTION, off)))
    chosen = [s for s in providers if s in named and listing.get(s, True)]
    return chosen, problems


def _undated(
    providers: Mapping[str, JobProvider], sources: list[str], job_filter: JobFilter
) -> tuple[list[str], list[SourceProblem]]:
    """With ``updatedSince``, the sources whose jobs say when they changed, and the others."""
    if job_filter.updated_since is None:
        return sources, []
    kept = [s for s in sources if providers[s].knows_update_times]
    why = "Its jobs do not say when they last changed: updatedSince cannot be applied."
    problems = [
        SourceProblem(s, JobError(ErrorCode.UNSUPPORTED_ACTION, why))
        for s in sources
        if s not in kept
    ]
    return kept, problems


@dataclass
class Lister:
    """Runs ``searchJobs`` over a gateway's providers (scoped to the caller)."""

    cursors: Cursors
    listing: Mapping[str, bool]
    max_page: int = 100

    async def search(
        self,
        providers: Mapping[str, JobProvider],
        job_filter: JobFilter,
        first: int,
        after: str | None,
        *,
        restricted: bool = False,
    ) -> Connection:
        sources, problems = choose_sources(
            providers, job_filter, self.listing, restricted=restricted
        )
        sources, undated = _undated(providers, sources, job_filter)
        place = self.cursors.read(after, job_filter) if after else None
        if place is not None and place.source not in sources:
            raise InvalidCursor("This cursor names a source this filter does not list.")
        answer = Connection(source_errors=problems + undated)
        start = sources.index(place.source) if place is not None else 0
        calls = 0
        for index, source in enumerate(sources[start:], start):
            here = place if place is not None and place.source == source else Place(source, 0)
            need = first - len(answer.edges)
            filled = await _fill(
                providers[source], job_filter, here, need, MAX_CALLS - calls, self.max_page
            )
            if isinstance(filled, JobError):
                answer.source_errors.append(SourceProblem(source, filled))
                continue
            calls += filled.calls
            answer.edges += [Edge(self.cursors.issue(job_filter, p), j) for p, j in filled.jobs]
            later = sources[index + 1 :]
            if not filled.exhausted:
                answer.has_next_page = True
                answer.end_cursor = self.cursors.issue(job_filter, filled.place)
                return answer
            if len(answer.edges) == first or calls >= MAX_CALLS:
                if not later:
                    break
                answer.has_next_page = True
                answer.end_cursor = self.cursors.issue(job_filter, Place(later[0], 0))
                return answer
        if answer.edges:
            answer.end_cursor = answer.edges[-1].cursor
        return answer
