"""Provider-neutral model of jobs, actions, errors and rules. Imports no I/O library."""

from jobgate.domain.actions import (
    ActionOutcome,
    ActionRequest,
    AlreadyApplied,
    CustomFieldChange,
    Deleted,
    JobResultStatus,
    JobUpdate,
    ManageAction,
)
from jobgate.domain.errors import ErrorCode, FieldError, JobError, JobFailure
from jobgate.domain.ids import JobId, parse_job_id
from jobgate.domain.jobs import Job, JobAction, JobDetails, JobStatus, JobWarning
from jobgate.domain.providers import Provider

__all__ = [
    "ActionOutcome",
    "ActionRequest",
    "AlreadyApplied",
    "CustomFieldChange",
    "Deleted",
    "ErrorCode",
    "FieldError",
    "Job",
    "JobAction",
    "JobDetails",
    "JobError",
    "JobFailure",
    "JobId",
    "JobResultStatus",
    "JobStatus",
    "JobUpdate",
    "JobWarning",
    "ManageAction",
    "Provider",
    "parse_job_id",
]
