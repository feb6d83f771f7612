"""GraphQL object types for jobs, errors and mutation payloads, built from domain values."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

import strawberry

from jobgate.domain import (
    AlreadyApplied,
    Deleted,
    ErrorCode,
    FieldError,
    Job,
    JobAction,
    JobError,
    JobStatus,
)
from jobgate.domain.actions import ActionOutcome
from jobgate.graphql.details import JobDetailsUnion, details_from_domain
from jobgate.graphql.enums import ProviderEnum, provider_enum


@strawberry.type(name="JobWarning", description="Something not known about a job, and its cost.")
class JobWarningType:
    code: ErrorCode = strawberry.field(description="Why the auxiliary read failed.")
    message: str


@strawberry.type(name="Job", description="A job at any vendor, in one vocabulary.")
class JobType:
    id: strawberry.ID = strawberry.field(description="`<source>:<native id>`.")
    source: str
    provider: ProviderEnum
    native_id: str
    status: JobStatus
    provider_status: str = strawberry.field(description="The upstream's own state, verbatim.")
    # Shared between jobs (`_in_order`), hence a tuple: nobody can change it in place.
    allowed_actions: Sequence[JobAction] = strawberry.field(
        description="What this job accepts now, from its provider's rules and its state."
    )
    details: JobDetailsUnion
    warnings: Sequence[JobWarningType] = strawberry.field(
        default=(),
        description="What the gateway could not find out about this job (an auxiliary read "
        "failed) and which actions it therefore does not offer; empty when all is known.",
    )
    created_at: datetime | None = strawberry.field(
        default=None, description="When the vendor says the job was made; null if it does not."
    )
    updated_at: datetime | None = strawberry.field(
        default=None,
        description="When the vendor says the job last changed; null if it does not say.",
    )

    @classmethod
    def from_domain(cls, job: Job) -> JobType:
        """The job as the schema shows it. Its fields are worked out when a query reads them
        (``_JobView``): a query that asks for a job's id and state does not pay for its
        details, warnings and actions (bench.instructions --requests)."""
        return _JobView(job)


class _JobView(JobType):
    """A ``JobType`` whose fields are read from the domain ``Job`` as the query asks for them.

    Not a Strawberry type of its own: the schema's ``Job`` is ``JobType``, and an instance of
    this subclass is one (graphql-core reads fields by attribute; ``Job`` has no interfaces,
    so no type check runs)."""

    def __init__(self, job: Job) -> None:  # JobType's dataclass __init__ is not run
        self._job = job

    @property
    def id(self) -> strawberry.ID:  # type: ignore[override]
        return strawberry.ID(self._job.id)

    @property
    def source(self) -> str:  # type: ignore[override]
        return self._job.source

    @property
    def provider(self) -> ProviderEnum:  # type: ignore[override]
        return provider_enum(self._job.provider)

    @property
    def native_id(self) -> str:  # type: ignore[override]
        return self._job.native_id

    @property
    def status(self) -> JobStatus:  # type: ignore[override]
        return self._job.status

    @property
    def provider_status(self) -> str:  # type: ignore[override]
        return self._job.provider_status

    @property
    def allowed_actions(self) -> Sequence[JobAction]:  # type: ignore[override]
        return _in_order(self._job.allowed_actions)

    @functools.cached_property
    def details(self) -> JobDetailsUnion:  # type: ignore[override]
        return details_from_domain(self._job)

    @functools.cached_property
    def warnings(self) -> Sequence[JobWarningType]:  # type: ignore[override]
        return tuple(JobWarningType(code=w.code, message=w.message) for w in self._job.warnings)

    @property
    def created_at(self) -> datetime | None:  # type: ignore[override]
        return self._job.created_at

    @property
    def updated_at(self) -> datetime | None:  # type: ignore[override]
        return self._job.updated_at


@functools.lru_cache(maxsize=256)
def _in_order(actions: frozenset[JobAction]) -> tuple[JobAction, ...]:
    """A job's allowed actions in a stable order; the few distinct sets are sorted once."""
    return tuple(sorted(actions, key=lambda a: a.value))


@strawberry.type(name="FieldError", description="An input field that was refused, and why.")
class FieldErrorType:
    field: str
    messages: list[str]

    @classmethod
    def from_domain(cls, error: FieldError) -> FieldErrorType:
        return cls(field=error.field, messages=list(error.messages))


@strawberry.type(name="JobError", description="Why a lookup or an action did not succeed.")
class JobErrorType:
    code: ErrorCode
    message: str = strawberry.field(description="Keeps the upstream's own words where it gave any.")
    upstream_status: int | None = strawberry.field(description="The upstream's HTTP status.")
    upstream_code: str | None = strawberry.field(description="The upstream's own error code.")
    detail: str | None
    provider_status: str | None = strawberry.field(
        description="The job's state when that is why the action was refused."
    )
    field_errors: list[FieldErrorType]

    @classmethod
    def from_domain(cls, error: JobError) -> JobErrorType:
        return cls(
            code=error.code,
            message=error.message,
            upstream_status=error.upstream_status,
            upstream_code=error.upstream_code,
            detail=error.detail,
            provider_status=error.provider_status,
            field_errors=[FieldErrorType.from_domain(f) for f in error.field_errors],
        )


ALREADY_APPLIED = (
    "True when, retrying an Idempotency-Key whose first attempt did not settle (it died, or "
    "answered OUTCOME_UNKNOWN), the job already showed the change: the earlier attempt made "
    "it, and nothing was sent this time."
)


@strawberry.type(description="Exactly one of `job` and `error` is set.")
class JobPayload:
    job: JobType | None
    error: JobErrorType | None
    already_applied: bool = strawberry.field(default=False, description=ALREADY_APPLIED)

    @classmethod
    def from_outcome(cls, outcome: ActionOutcome) -> JobPayload:
        if isinstance(outcome, JobError):
            return cls(job=None, error=JobErrorType.from_domain(outcome))
        if isinstance(outcome, AlreadyApplied):
            payload = cls.from_outcome(outcome.outcome)
            payload.already_applied = True
            return payload
        if isinstance(outcome, Deleted):
            return cls(job=None, error=None)
        return cls(job=JobType.from_domain(outcome), error=None)


@strawberry.type(description="One id's outcome; `job` is null after a DELETE.")
class ManageJobResult:
    id: strawberry.ID
    job: JobType | None
    error: JobErrorType | None
    already_applied: bool = strawberry.field(default=False, description=ALREADY_APPLIED)

    @classmethod
    def from_outcome(cls, raw_id: str, outcome: ActionOutcome) -> ManageJobResult:
        payload = JobPayload.from_outcome(outcome)
        return cls(
            id=strawberry.ID(raw_id),
            job=payload.job,
            error=payload.error,
            already_applied=payload.already_applied,
        )


@strawberry.type
class ManageJobsPayload:
    results: list[ManageJobResult] = strawberry.field(description="One per id, in order.")


@strawberry.type(name="Source", description="A configured upstream account.")
class SourceType:
    name: str
    provider: ProviderEnum
    healthy: bool = strawberry.field(
        description="True once a call to the source (or the start-up probe) has succeeded and "
        "while its circuit breaker is not open (when open, calls fail fast)."
    )
    reached: bool = strawberry.field(
        default=True,
        description="Whether any call has been answered usably since the gateway started.",
    )
    supported_actions: list[JobAction]
    circuit: str = strawberry.field(
        default="closed",
        description="The circuit breaker: closed, half-open (a probe call may pass) or open.",
    )
    retry_in_seconds: int | None = strawberry.field(
        default=None, description="While the circuit is open: seconds until a probe call."
    )
