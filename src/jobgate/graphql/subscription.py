"""``jobUpdated``: the Subscription root, its ``JobUpdate`` type and how it follows a Watcher."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry
from strawberry.types import Info

from graphql import GraphQLError
from jobgate.domain import ErrorCode, JobError
from jobgate.graphql.context import Context
from jobgate.graphql.types import JobErrorType, JobType
from jobgate.watch import TooSlow, Update


@strawberry.type(
    name="JobUpdate", description="One job's new state, or why it cannot be had: one of the two."
)
class JobUpdateType:
    id: strawberry.ID
    job: JobType | None
    error: JobErrorType | None

    @classmethod
    def from_update(cls, update: Update) -> JobUpdateType:
        return cls(
            id=strawberry.ID(update.id),
            job=None if update.job is None else JobType.from_domain(update.job),
            error=None if update.error is None else JobErrorType.from_domain(update.error),
        )


def _refused(message: str, code: ErrorCode) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.value})


async def job_updated(
    info: Info[Context, None], ids: list[strawberry.ID]
) -> AsyncGenerator[JobUpdateType, None]:
    context = info.context
    watcher = context.watcher
    if watcher is None:
        raise _refused("Live updates are not available here.", ErrorCode.UNSUPPORTED_ACTION)
    raw_ids = list(dict.fromkeys(str(i) for i in ids))
    limit = context.server.max_ids
    if not raw_ids or len(raw_ids) > limit:
        raise _refused(
            f"A subscription watches 1 to {limit} ids (got {len(raw_ids)}).",
            ErrorCode.VALIDATION_FAILED,
        )
    valid: list[str] = []
    for raw in raw_ids:
        parsed = context.gateway.parse(raw)
        if isinstance(parsed, JobError):
            yield JobUpdateType.from_update(Update(raw, error=parsed))
        else:
            valid.append(str(parsed))
    if not valid:
        return
    subscription = await watcher.subscribe(valid)
    try:
        async for update in subscription.updates():
            yield JobUpdateType.from_update(update)
    except TooSlow as slow:
        raise _refused(str(slow), ErrorCode.RATE_LIMITED) from None
    finally:
        watcher.unsubscribe(subscription)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Each job's current state, then an update whenever its status, "
        "providerStatus, allowedActions or details change (upstreams are polled every "
        "`poll_interval`; changes made through this gateway come at once). A job that is "
        "gone gives one NOT_FOUND update; an invalid id an INVALID_ID update."
    )
    async def job_updated(
        self, ids: list[strawberry.ID], info: Info[Context, None]
    ) -> AsyncGenerator[JobUpdateType, None]:
        async for update in job_updated(info, ids):
            yield update
