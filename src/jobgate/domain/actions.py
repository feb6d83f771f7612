"""What a caller asks a job to do, and what can come of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from jobgate.domain.errors import JobError
from jobgate.domain.jobs import Job, JobAction


class ManageAction(Enum):
    """The batch actions of ``manageJobs``."""

    CLOSE = "CLOSE"
    REOPEN = "REOPEN"
    UPGRADE = "UPGRADE"
    DELETE = "DELETE"

    @property
    def job_action(self) -> JobAction:
        return JobAction[self.value]


class JobResultStatus(Enum):
    COMPLETED_OK = "COMPLETED_OK"
    COMPLETED_WITH_ISSUES = "COMPLETED_WITH_ISSUES"


# Neutral names of the fields ``updateJob`` may change.
UPDATE_FIELDS = frozenset(
    {"planned_duration", "description", "reference", "primary_contact_id", "order_number"}
)


@dataclass(frozen=True, slots=True)
class CustomFieldChange:
    id: str
    value: str | None


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """A partial update: a key present in ``changes`` is sent (``None`` = unset), absent = keep.

    ``custom_fields`` is ``None`` when the caller omitted it.
    """

    changes: Mapping[str, str | int | None] = field(default_factory=dict)
    custom_fields: tuple[CustomFieldChange, ...] | None = None

    def __post_init__(self) -> None:
        unknown = set(self.changes) - UPDATE_FIELDS
        if unknown:
            raise ValueError(f"unknown update fields: {sorted(unknown)}")


@dataclass(frozen=True, slots=True)
class ActionRequest:
    action: JobAction
    # True when asked through manageJobs, which only providers with batch actions offer.
    batch: bool = False
    result_status: JobResultStatus | None = None
    result: str | None = None
    update: JobUpdate | None = None
    # An earlier attempt (same Idempotency-Key) may have applied this change already: a job
    # that shows it is answered as applied, and nothing is sent for it.
    resume: bool = False


@dataclass(frozen=True, slots=True)
class Deleted:
    """The upstream confirmed the job is gone (read-back answered 404 after a delete)."""

    source: str
    native_id: str


@dataclass(frozen=True, slots=True)
class AlreadyApplied:
    """Resuming an Idempotency-Key, the job already showed the change (an earlier attempt made
    it): ``outcome`` is what that change led to, and nothing was sent this time."""

    outcome: Job | Deleted


ActionOutcome = Job | Deleted | AlreadyApplied | JobError
