"""Sitecore Content Hub fetch jobs: lifecycle rules and details (PROVIDERS.md §1)."""

from __future__ import annotations

from dataclasses import dataclass

from jobgate.domain.jobs import JobAction, JobDetails, JobStatus, Provider
from jobgate.domain.rules import StateTable

CANCELLED = "Cancelled"

# Created -> Pending -> InProgress -> Completed (condition Success | Failure); only a Pending job
# can be cancelled. A failed job is "Completed" with condition "Failure", so the table is looked up
# by ``rule_key`` rather than by the bare state.
RULES = StateTable(
    provider=Provider.CONTENT_HUB,
    statuses={
        "Created": JobStatus.PENDING,
        "Pending": JobStatus.PENDING,
        "InProgress": JobStatus.IN_PROGRESS,
        "Completed": JobStatus.COMPLETED,
        "Completed:Failure": JobStatus.FAILED,
        CANCELLED: JobStatus.CANCELLED,
    },
    allowed={"Pending": frozenset({JobAction.CANCEL})},
    supported=frozenset({JobAction.CANCEL}),
)


def rule_key(state: str, condition: str | None) -> str:
    """The ``RULES`` key for a job: its state, told apart by condition where that matters."""
    if state == "Completed" and condition == "Failure":
        return "Completed:Failure"
    return state


@dataclass(frozen=True, slots=True)
class ContentHubDetails(JobDetails):
    condition: str | None
    state_description: str | None
    scope: str | None
    file_count: int | None
    files_completed: int | None
    created_on: str | None
    started_on: str | None
    completed_on: str | None
    modified_on: str | None
    created_by: str | None  # the href of the user entity that created the job
