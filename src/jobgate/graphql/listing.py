"""``searchJobs``: its filter input, the Relay-style connection it answers, and its resolver."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from graphql import GraphQLError
from jobgate.domain import ErrorCode, JobStatus
from jobgate.domain.listing import JobFilter
from jobgate.graphql.context import Context
from jobgate.graphql.errors import INVALID_CURSOR
from jobgate.graphql.types import JobErrorType, JobType
from jobgate.listing import Connection, InvalidCursor


@strawberry.input(name="JobFilter", description="Every condition given must hold (any of a list).")
class JobFilterInput:
    sources: list[str] | None = strawberry.field(
        default=None, description="Default: every source whose listing is on."
    )
    status: list[JobStatus] | None = strawberry.field(default=None, description="Any of these.")
    updated_since: datetime | None = strawberry.field(
        default=None,
        description="Jobs changed at or after this time; a source whose jobs carry no change "
        "time is not listed and says so in `sourceErrors`.",
    )

    def to_domain(self) -> JobFilter:
        since = self.updated_since
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return JobFilter(
            sources=tuple(self.sources) if self.sources is not None else None,
            statuses=frozenset(self.status) if self.status is not None else None,
            updated_since=since,
        )


@strawberry.type
class JobEdge:
    cursor: str = strawberry.field(description="Pass as `after` for the jobs after this one.")
    node: JobType


@strawberry.type
class PageInfo:
    has_next_page: bool = strawberry.field(description="More jobs may follow `endCursor`.")
    end_cursor: str | None


@strawberry.type(description="A source that could not be listed; the others still were.")
class SourceError:
    source: str
    code: ErrorCode
    message: str
    error: JobErrorType = strawberry.field(description="The whole error, upstream words kept.")


@strawberry.type
class JobConnection:
    edges: list[JobEdge]
    page_info: PageInfo
    source_errors: list[SourceError]

    @classmethod
    def from_domain(cls, found: Connection) -> JobConnection:
        return cls(
            edges=[JobEdge(cursor=e.cursor, node=JobType.from_domain(e.job)) for e in found.edges],
            page_info=PageInfo(has_next_page=found.has_next_page, end_cursor=found.end_cursor),
            source_errors=[
                SourceError(
                    source=p.source,
                    code=p.error.code,
                    message=p.error.message,
                    error=JobErrorType.from_domain(p.error),
                )
                for p in found.source_errors
            ],
        )


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


async def search_jobs(
    info: Info[Context, None], job_filter: JobFilterInput | None, first: int, after: str | None
) -> JobConnection:
    context = info.context
    limit = context.gateway.lister.max_page
    if not 1 <= first <= limit:
        raise _error(f"first must be between 1 and {limit}.", ErrorCode.VALIDATION_FAILED.value)
    chosen = (job_filter or JobFilterInput()).to_domain()
    try:
        found = await context.gateway.search_jobs(chosen, first, after)
    except InvalidCursor as refused:
        raise _error(str(refused), INVALID_CURSOR) from None
    return JobConnection.from_domain(found)
