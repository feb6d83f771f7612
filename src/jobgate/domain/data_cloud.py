"""Salesforce Data Cloud ingestion jobs: lifecycle rules and details (PROVIDERS.md §3)."""

from __future__ import annotations

from dataclasses import dataclass

from jobgate.domain.jobs import JobAction, JobDetails, JobStatus
from jobgate.domain.providers import Provider, SourceKeys
from jobgate.domain.rules import StateTable

DATA_CLOUD = Provider(
    name="DATA_CLOUD",
    key="data-cloud",
    label="Data Cloud",
    keys=SourceKeys(
        auth=(
            (frozenset({"token"}), frozenset()),
            # A Salesforce token (client credentials, or the JWT bearer flow for a user),
            # exchanged for a Data Cloud token that names the instance's URL.
            (frozenset({"login_url", "client_id", "client_secret"}), frozenset()),
            (frozenset({"login_url", "client_id", "private_key_file", "username"}), frozenset()),
        ),
        base_url_comes_with=frozenset({"login_url"}),
    ),
)

# Open -> UploadComplete | Aborted; UploadComplete -> InProgress -> JobComplete | Failed.
RULES = StateTable(
    provider=DATA_CLOUD,
    statuses={
        "Open": JobStatus.OPEN,
        "UploadComplete": JobStatus.QUEUED,
        "InProgress": JobStatus.IN_PROGRESS,
        "JobComplete": JobStatus.COMPLETED,
        "Failed": JobStatus.FAILED,
        "Aborted": JobStatus.ABORTED,
    },
    allowed={"Open": frozenset({JobAction.CLOSE, JobAction.ABORT})},
    supported=frozenset({JobAction.CLOSE, JobAction.ABORT}),
)

# The state each action asks the upstream to move the job to.
TARGET_STATE = {JobAction.CLOSE: "UploadComplete", JobAction.ABORT: "Aborted"}


@dataclass(frozen=True, slots=True)
class DataCloudDetails(JobDetails):
    object: str
    operation: str
    source_name: str | None  # may be absent
    content_type: str | None
    api_version: str | None  # sent as "v1" or as the number 1: kept as text
    created_by_id: str | None
    created_date: str | None
    system_modstamp: str | None
    # Only in the job-info answer (GET /jobs/{id}), not in lists.
    content_url: str | None = None
    retries: int | None = None
    total_processing_time: int | None = None  # milliseconds
