"""Query and Mutation roots and ``build_schema``: the schema's type system."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Sequence
from dataclasses import replace
from typing import Annotated

import strawberry
from strawberry.types import Info

from graphql import GraphQLResolveInfo
from jobgate import audit
from jobgate.domain import ActionRequest, Job, JobAction, JobError, JobResultStatus, ManageAction
from jobgate.domain.actions import ActionOutcome
from jobgate.domain.errors import ErrorCode
from jobgate.graphql.context import Context
from jobgate.graphql.descriptions import describe
from jobgate.graphql.details import SCHEMA_PROVIDERS
from jobgate.graphql.enums import provider_enum
from jobgate.graphql.errors import JobLookupError
from jobgate.graphql.inputs import UpdateJobInput
from jobgate.graphql.listing import JobConnection, JobFilterInput, search_jobs
from jobgate.graphql.subscription import Subscription
from jobgate.graphql.types import (
    JobPayload,
    JobType,
    ManageJobResult,
    ManageJobsPayload,
    SourceType,
)
from jobgate.internals import strawberry as fast_fields
from jobgate.internals.strawberry import graphql_schema
from jobgate.upstream.attempts import attempts
from jobgate.upstream.resilience import source_health
from jobgate.vendors import VENDORS

Ctx = Info[Context, None]


def _too_many(ids: Sequence[str], context: Context) -> JobError | None:
    limit = context.server.max_ids
    if len(ids) > limit:
        return JobError(
            ErrorCode.VALIDATION_FAILED, f"At most {limit} ids per request (got {len(ids)})."
        )
    return None


def job_or_error(result: Job | JobError | None) -> JobType | JobLookupError | None:
    if isinstance(result, JobError):
        # "Not found" is just null; every other failure is a located GraphQL error.
        return None if result.code is ErrorCode.NOT_FOUND else JobLookupError(result)
    return None if result is None else JobType.from_domain(result)


async def _job(context: Context, id: str) -> JobType | None:
    result = job_or_error(await context.job_loader.load(str(id)))
    if isinstance(result, JobLookupError):
        raise result
    return result


async def _jobs(context: Context, ids: Sequence[str]) -> list[JobType | JobLookupError | None]:
    if (too_many := _too_many(ids, context)) is not None:
        raise JobLookupError(too_many)
    results = await context.job_loader.load_many([str(i) for i in ids])
    # graphql-core turns an Exception in a list into an error at that index, null in place.
    return [job_or_error(r) for r in results]


# Requests run `job` and `jobs` through these plain graphql-core resolvers (`build_schema`
# installs them): an ID argument arrives as a str, so Strawberry's per-call argument
# conversion and Info object have nothing to add.
def resolve_job(
    _root: object, info: GraphQLResolveInfo[Context], id: str
) -> Awaitable[JobType | None]:
    return _job(info.context, id)


def resolve_jobs(
    _root: object, info: GraphQLResolveInfo[Context], ids: list[str]
) -> Awaitable[list[JobType | JobLookupError | None]]:
    return _jobs(info.context, ids)


@strawberry.type
class Query:
    # The schema's definition of `job` and `jobs` (types, descriptions), and the resolvers
    # of a schema built without `fast_fields`.
    @strawberry.field(description="The job, or null when the upstream says it does not exist.")
    async def job(self, id: strawberry.ID, info: Ctx) -> JobType | None:
        return await _job(info.context, id)

    @strawberry.field(description="The jobs in the order of `ids`; null where not found.")
    async def jobs(self, ids: list[strawberry.ID], info: Ctx) -> list[JobType | None]:
        return await _jobs(info.context, ids)  # type: ignore[return-value]

    @strawberry.field(
        description="Jobs from every source, a page at a time: sources in config order, each "
        "in its vendor's order. A source that fails is named in `sourceErrors`; the others "
        "are still listed."
    )
    async def search_jobs(
        self,
        info: Ctx,
        job_filter: Annotated[JobFilterInput | None, strawberry.argument(name="filter")] = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> JobConnection:
        return await search_jobs(info, job_filter, 20 if first is None else first, after)

    @strawberry.field(description="The configured upstream accounts and their health.")
    def sources(self, info: Ctx) -> list[SourceType]:
        found = []
        for name, provider in info.context.gateway.providers.items():
            health = source_health(name, info.context.breakers.get(name, ()))
            found.append(
                SourceType(
                    name=name,
                    provider=provider_enum(provider.provider),
                    healthy=health.healthy,
                    reached=health.reached,
                    supported_actions=sorted(provider.rules.supported, key=lambda a: a.value),
                    circuit=health.state.value,
                    retry_in_seconds=math.ceil(health.retry_in) if not health.healthy else None,
                )
            )
        return found


async def _perform(info: Ctx, request: ActionRequest, raw_ids: list[str]) -> list[ActionOutcome]:
    """The gateway's perform, with one audit record per id (``jobgate.audit``)."""
    with attempts() as made:
        outcomes = await info.context.gateway.perform(request, raw_ids)
    audit.record(info.context.principal, info.field_name, request, raw_ids, outcomes, made)
    return outcomes


async def _one(info: Ctx, request: ActionRequest, id: strawberry.ID) -> JobPayload:
    request = replace(request, resume=info.context.resuming)
    [outcome] = await _perform(info, request, [str(id)])
    return JobPayload.from_outcome(outcome)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Content Hub: cancel a Pending fetch job.")
    async def cancel_job(self, id: strawberry.ID, info: Ctx) -> JobPayload:
        return await _one(info, ActionRequest(JobAction.CANCEL), id)

    @strawberry.mutation(
        description="Data Cloud: Open -> UploadComplete. Workflow Manager: close the job."
    )
    async def close_job(self, id: strawberry.ID, info: Ctx) -> JobPayload:
        return await _one(info, ActionRequest(JobAction.CLOSE), id)

    @strawberry.mutation(description="Data Cloud: Open -> Aborted.")
    async def abort_job(self, id: strawberry.ID, info: Ctx) -> JobPayload:
        return await _one(info, ActionRequest(JobAction.ABORT), id)

    @strawberry.mutation(
        description="Workflow Manager: CLOSE, REOPEN, UPGRADE or DELETE jobs; a result per id."
    )
    async def manage_jobs(
        self, action: ManageAction, ids: list[strawberry.ID], info: Ctx
    ) -> ManageJobsPayload:
        raw_ids = [str(i) for i in ids]
        if (too_many := _too_many(ids, info.context)) is not None:
            return ManageJobsPayload(
                results=[ManageJobResult.from_outcome(i, too_many) for i in raw_ids]
            )
        request = ActionRequest(action.job_action, batch=True, resume=info.context.resuming)
        outcomes = await _perform(info, request, raw_ids)
        return ManageJobsPayload(
            results=[
                ManageJobResult.from_outcome(i, o) for i, o in zip(raw_ids, outcomes, strict=True)
            ]
        )

    @strawberry.mutation(description="BigChange: set a started job's result.")
    async def set_job_result(
        self, id: strawberry.ID, status: JobResultStatus, result: str, info: Ctx
    ) -> JobPayload:
        request = ActionRequest(JobAction.SET_RESULT, result_status=status, result=result)
        return await _one(info, request, id)

    @strawberry.mutation(description="BigChange: update a job's fields.")
    async def update_job(self, id: strawberry.ID, input: UpdateJobInput, info: Ctx) -> JobPayload:
        return await _one(info, ActionRequest(JobAction.UPDATE, update=input.to_domain()), id)


def build_schema(*, fast_paths: bool = True) -> strawberry.Schema:
    """The type system. Requests run through ``graphql.execution.Executor``, which applies the
    limits, the introspection switch and the document caches, so the schema needs none of
    Strawberry's per-request extensions (nor its error logging: nothing calls it).

    With ``fast_paths``, ``jobgate.internals.strawberry`` then swaps Strawberry's resolver
    wrappers for plain graphql-core ones where they add nothing (attribute fields, the
    ``JobDetails`` union, ``job`` and ``jobs``)."""
    late = [p.key for p in VENDORS.providers if p not in SCHEMA_PROVIDERS]
    if late:
        raise RuntimeError(
            f"vendor {', '.join(late)} was registered after jobgate.graphql was imported: "
            "its jobs could not be answered. Register vendors before importing the schema."
        )
    schema = strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)
    describe(graphql_schema(schema))
    if fast_paths:
        fast_fields.install(
            schema, root_resolvers={("Query", "job"): resolve_job, ("Query", "jobs"): resolve_jobs}
        )
    return schema
