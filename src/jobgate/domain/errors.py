"""Contract error codes and the error value every failed lookup or action carries.

Hierarchy of the one exception the gateway raises internally::

    Exception
    └── JobFailure        carries a JobError; caught at the provider boundary and turned into data
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ErrorCode(Enum):
    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    UNSUPPORTED_ACTION = "UNSUPPORTED_ACTION"
    INVALID_STATE = "INVALID_STATE"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    FORBIDDEN = "FORBIDDEN"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    RATE_LIMITED = "RATE_LIMITED"
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    OUTCOME_UNKNOWN = "OUTCOME_UNKNOWN"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One input field the upstream (or the gateway) refused, with the reasons given."""

    field: str
    messages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class JobError:
    """Why a lookup or an action did not succeed. ``message`` keeps the upstream's own words."""

    code: ErrorCode
    message: str
    upstream_status: int | None = None
    upstream_code: str | None = None
    detail: str | None = None
    field_errors: tuple[FieldError, ...] = field(default=())
    provider_status: str | None = None


class JobFailure(Exception):
    """Raised inside adapters when a call fails; converted to a ``JobError`` at the boundary."""

    def __init__(self, error: JobError) -> None:
        super().__init__(error.message)
        self.error = error
