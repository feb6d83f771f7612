"""The provider-neutral job: its status vocabulary, the actions it may accept, the job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from jobgate.domain.errors import ErrorCode
from jobgate.domain.providers import Provider


class JobStatus(Enum):
    """One status vocabulary for every provider."""

    PENDING = "PENDING"
    OPEN = "OPEN"
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ISSUES = "COMPLETED_WITH_ISSUES"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    ABORTED = "ABORTED"
    CLOSED = "CLOSED"


class JobAction(Enum):
    """Every change a caller can ask for, whichever provider holds the job."""

    CANCEL = "CANCEL"
    CLOSE = "CLOSE"
    ABORT = "ABORT"
    REOPEN = "REOPEN"
    UPGRADE = "UPGRADE"
    DELETE = "DELETE"
    SET_RESULT = "SET_RESULT"
    UPDATE = "UPDATE"

    @property
    def verb(self) -> str:
        return self.value.lower().replace("_", " ")


class JobDetails:
    """Base of the provider-specific part of a job; each provider module subclasses it."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class JobWarning:
    """Something the gateway could not find out about a job it still answers, and what that
    costs: an auxiliary read failed, so the actions that depend on it are not offered."""

    code: ErrorCode
    message: str


@dataclass(frozen=True, slots=True)
class Job:
    """A job as the gateway presents it, whichever vendor holds it."""

    source: str
    native_id: str
    provider: Provider
    status: JobStatus
    provider_status: str
    allowed_actions: frozenset[JobAction]
    details: JobDetails
    warnings: tuple[JobWarning, ...] = ()
    # When the vendor says the job was made and last changed; None where it has no such field.
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.source}:{self.native_id}"
