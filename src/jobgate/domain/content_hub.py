"""Sitecore Content Hub fetch jobs: lifecycle rules and details (PROVIDERS.md §1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from jobgate.domain.jobs import JobAction, JobDetails, JobStatus
from jobgate.domain.providers import OptionKey, Provider, SourceKeys
from jobgate.domain.rules import StateTable

CONTENT_HUB = Provider(
    name="CONTENT_HUB",
    key="content-hub",
    label="Content Hub",
    keys=SourceKeys(
        auth=(
            # A fixed token: OAuth's bearer token or the legacy X-Auth-Token, never renewed.
            (frozenset({"token"}), frozenset({"auth_header"})),
            # OAuth's password grant, renewed with the refresh token.
            (
                frozenset({"client_id", "client_secret", "username", "password"}),
                frozenset({"token_url"}),
            ),
        ),
        options={"auth_header": OptionKey(choices=("bearer", "x-auth-token"))},
    ),
)

PENDING = "Pending"
CANCELLED = "Cancelled"

# Created -> Pending -> InProgress -> Completed (condition Success | Failure); only a Pending job
# can be cancelled. A failed job is "Completed" with condition "Failure", so the table is looked up
# by ``rule_key`` rather than by the bare state. Conditions other than those (the job-status page
# also shows None and Cancelled) are kept verbatim and change nothing here.
RULES = StateTable(
    provider=CONTENT_HUB,
    statuses={
        "Created": JobStatus.PENDING,
        PENDING: JobStatus.PENDING,
        "InProgress": JobStatus.IN_PROGRESS,
        "Completed": JobStatus.COMPLETED,
        "Completed:Failure": JobStatus.FAILED,
        CANCELLED: JobStatus.CANCELLED,
    },
    allowed={PENDING: frozenset({JobAction.CANCEL})},
    supported=frozenset({JobAction.CANCEL}),
)

# A Labels value: (culture, text) pairs in the order the upstream sent them.
Labels: TypeAlias = tuple[tuple[str, str | None], ...]
DEFAULT_CULTURE = "en-US"


def rule_key(state: str, condition: str | None) -> str:
    """The ``RULES`` key for a job: its state, told apart by condition where that matters."""
    if state == "Completed" and condition == "Failure":
        return "Completed:Failure"
    return state


def label_text(value: str | Labels | None, culture: str = DEFAULT_CULTURE) -> str | None:
    """A plain string as it is; a Labels value's text in ``culture``, else its first text."""
    if value is None or isinstance(value, str):
        return value
    texts = dict(value)
    if texts.get(culture) is not None:
        return texts[culture]
    return next((text for _, text in value if text is not None), None)


@dataclass(frozen=True, slots=True)
class ContentHubDetails(JobDetails):
    """A fetch job's fields, kept as sent where the cancel must echo them."""

    condition: str | None
    # A Labels object ({"en-US": ..}) or, as the docs' own example shows, a plain string.
    state_description: str | Labels | None
    scope: str | None
    file_count: int | str | None  # the docs' example sends it as a string ("1")
    files_completed: int | None
    started_on: str | None
    completed_on: str | None
    owner: str | None  # the href of the user entity that owns the job
