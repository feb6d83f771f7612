"""Listing jobs without knowing their ids: the filter a caller gives, the page a source answers.

A source lists in its vendor's own order and pages by position (an offset into that order); the
gateway asks each source for pages, filters what the vendor could not, and keeps its place with a
cursor (``jobgate.listing``). A ``ListQuery`` carries the caller's filter down to the adapter,
which pushes into the vendor's request what the vendor's API can express.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jobgate.domain.jobs import Job, JobStatus


@dataclass(frozen=True, slots=True)
class JobFilter:
    """What the caller asked for: ``None`` means no condition."""

    sources: tuple[str, ...] | None = None
    statuses: frozenset[JobStatus] | None = None
    updated_since: datetime | None = None

    def admits(self, job: Job) -> bool:
        """The gateway's own check, applied whatever the vendor filtered already."""
        if self.statuses is not None and job.status not in self.statuses:
            return False
        if self.updated_since is not None:
            return job.updated_at is not None and job.updated_at >= self.updated_since
        return True

    def digest_parts(self) -> list[str]:
        """A canonical text of the filter, for cursors issued under it."""
        return [
            ",".join(self.sources) if self.sources is not None else "*",
            ",".join(sorted(s.name for s in self.statuses)) if self.statuses is not None else "*",
            self.updated_since.isoformat() if self.updated_since is not None else "*",
        ]


@dataclass(frozen=True, slots=True)
class ListQuery:
    """One page request to one source: ``limit`` vendor items from position ``offset``."""

    offset: int
    limit: int
    statuses: frozenset[JobStatus] | None = None
    updated_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class ListPage:
    """What a source answered: its items from ``offset`` on, in its order, each parsed into a
    job (``jobs[i]`` sits at vendor position ``offset + i``; None: listed, then gone before it
    could be read). ``end``: nothing comes after."""

    offset: int
    jobs: Sequence[Job | None]
    end: bool
