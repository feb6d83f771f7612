"""BigChange jobs: status mapping, allowed actions, update and result rules (PROVIDERS.md §2).

Status mapping (upstream -> neutral):

* ``new``, ``unscheduled`` -> PENDING: nobody is booked to do the job yet.
* ``scheduled``, ``sent``, ``read``, ``accepted`` -> OPEN: planned into a resource's schedule,
  work not begun.
* ``refused`` -> CANCELLED: the resource declined it, so the job as dispatched will not be done;
  ``providerStatus`` keeps ``refused`` and UPDATE stays allowed so the office can re-plan it.
* ``onTheWay``, ``started`` -> IN_PROGRESS; ``suspended`` -> SUSPENDED.
* ``completedOk`` -> COMPLETED; ``completedWithIssues`` -> COMPLETED_WITH_ISSUES;
  ``cancelled`` -> CANCELLED.
* The status history also names ``lateStart`` -> OPEN, ``rescheduled`` -> OPEN and
  ``lateFinish`` -> IN_PROGRESS, which "should not be visible from the API". They and any status
  added later are read and kept verbatim in ``providerStatus``, and accept no action: the rules
  say nothing about them.

UPDATE is allowed in every state but ``cancelled`` (a cancelled job's record is final; completed
jobs still take admin fixes such as an order number). ``description`` and ``primaryContactId``
are locked once the job has started: ``started``, ``suspended`` and both completed states.
SET_RESULT is allowed only in ``started``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jobgate.domain.actions import JobResultStatus, JobUpdate
from jobgate.domain.errors import ErrorCode, FieldError, JobError
from jobgate.domain.jobs import JobAction, JobDetails, JobStatus
from jobgate.domain.providers import KeyKind, OptionKey, Provider, SourceKeys
from jobgate.domain.rules import StateTable

BIGCHANGE = Provider(
    name="BIGCHANGE",
    key="bigchange",
    label="BigChange",
    keys=SourceKeys(
        auth=(
            (frozenset({"client_id", "client_secret"}), frozenset({"token_url"})),
            (frozenset({"token"}), frozenset()),
        ),
        required=frozenset({"customer_id"}),  # sent as the Customer-Id header on every call
        options={"customer_id": OptionKey(KeyKind.DIGITS)},
    ),
)

STATUSES: Mapping[str, JobStatus] = {
    "new": JobStatus.PENDING,
    "unscheduled": JobStatus.PENDING,
    "scheduled": JobStatus.OPEN,
    "sent": JobStatus.OPEN,
    "read": JobStatus.OPEN,
    "accepted": JobStatus.OPEN,
    "refused": JobStatus.CANCELLED,
    "onTheWay": JobStatus.IN_PROGRESS,
    "started": JobStatus.IN_PROGRESS,
    "suspended": JobStatus.SUSPENDED,
    "completedOk": JobStatus.COMPLETED,
    "completedWithIssues": JobStatus.COMPLETED_WITH_ISSUES,
    "cancelled": JobStatus.CANCELLED,
}
# In the status history, "should not be visible from the API": read, but no action is allowed.
LATE_STATUSES: Mapping[str, JobStatus] = {
    "lateStart": JobStatus.OPEN,
    "rescheduled": JobStatus.OPEN,
    "lateFinish": JobStatus.IN_PROGRESS,
}

_UPDATABLE = frozenset({JobAction.UPDATE})
RULES = StateTable(
    provider=BIGCHANGE,
    statuses={**STATUSES, **LATE_STATUSES},
    allowed={
        **{state: _UPDATABLE for state in STATUSES if state != "cancelled"},
        "started": frozenset({JobAction.UPDATE, JobAction.SET_RESULT}),
    },
    supported=frozenset({JobAction.UPDATE, JobAction.SET_RESULT}),
)

# States in which the job "has been started or completed" (the update doc's words).
LOCKED_STATES = frozenset({"started", "suspended", "completedOk", "completedWithIssues"})
# The update fields those states lock (neutral names).
LOCKED_FIELDS = ("description", "primary_contact_id")
# Neutral update field -> its GraphQL name, used in field errors.
GRAPHQL_NAMES = {
    "planned_duration": "plannedDuration",
    "description": "description",
    "reference": "reference",
    "primary_contact_id": "primaryContactId",
    "order_number": "orderNumber",
}
# Neutral update field -> the upstream's JSON name.
UPSTREAM_NAMES = {
    "planned_duration": "plannedDuration",
    "description": "description",
    "reference": "reference",
    "primary_contact_id": "contactPersonId",
    "order_number": "orderNumber",
}
RESULT_STATUS = {
    JobResultStatus.COMPLETED_OK: "completedOk",
    JobResultStatus.COMPLETED_WITH_ISSUES: "completedWithIssues",
}
# Upstream ids are int64: at most 18 digits keeps every accepted id in range.
_NUMERIC_ID = re.compile(r"[0-9]{1,18}")


def is_native_id(value: str) -> bool:
    return bool(_NUMERIC_ID.fullmatch(value))


@dataclass(frozen=True, slots=True)
class BigChangeJobType:
    id: int
    name: str
    positive_results: tuple[str, ...]
    negative_results: tuple[str, ...]

    def results_for(self, status: JobResultStatus) -> tuple[str, ...]:
        if status is JobResultStatus.COMPLETED_OK:
            return self.positive_results
        return self.negative_results


@dataclass(frozen=True, slots=True)
class CustomFieldValue:
    id: str
    value: str | None


@dataclass(frozen=True, slots=True)
class BigChangeDetails(JobDetails):
    type_id: int | None
    contact_id: str | None
    primary_contact_id: str | None
    description: str | None
    reference: str | None
    order_number: str | None
    planned_duration: int | None
    result: str | None
    custom_fields: tuple[CustomFieldValue, ...]
    # None when the job type could not be read: the options are unknown, not empty.
    job_type: BigChangeJobType | None


def update_refusal(state: str, current: BigChangeDetails, update: JobUpdate) -> JobError | None:
    """Why ``update`` must not be sent for a job in ``state``, or ``None`` when it may."""
    if not update.changes and update.custom_fields is None:
        return JobError(ErrorCode.VALIDATION_FAILED, "The update names no field to change.")
    bad_ids = [c.id for c in update.custom_fields or () if not is_native_id(c.id)]
    if bad_ids:
        return JobError(
            ErrorCode.VALIDATION_FAILED,
            f"Custom field ids are numbers; got {', '.join(repr(i) for i in bad_ids)}.",
            field_errors=(FieldError("customFields", ("Custom field ids must be numeric.",)),),
        )
    if state not in LOCKED_STATES:
        return None
    now = {"description": current.description, "primary_contact_id": current.primary_contact_id}
    # Sending a locked field's current value again changes nothing, so it is not refused;
    # a null contact person means "reset to the primary person", which may be a change.
    locked = [
        GRAPHQL_NAMES[name]
        for name in LOCKED_FIELDS
        if name in update.changes
        and (update.changes[name] is None or update.changes[name] != now[name])
    ]
    if not locked:
        return None
    return JobError(
        ErrorCode.VALIDATION_FAILED,
        f"Cannot change {' or '.join(locked)} once the job has started (state '{state}').",
        field_errors=tuple(
            FieldError(name, ("Cannot be updated once the job has started.",)) for name in locked
        ),
        provider_status=state,
    )


def patch_body(update: JobUpdate) -> dict[str, Any]:
    """The upstream's PATCH document: omitted fields stay out, ``None`` is sent as null."""
    body: dict[str, Any] = {UPSTREAM_NAMES[name]: value for name, value in update.changes.items()}
    if update.custom_fields is not None:
        body["customFields"] = [{"id": int(c.id), "value": c.value} for c in update.custom_fields]
    return body


def update_mismatches(update: JobUpdate, seen: BigChangeDetails) -> list[str]:
    """The GraphQL names of sent fields that the job read back does not show."""
    wrong: list[str] = []
    now: dict[str, object] = {
        "planned_duration": seen.planned_duration,
        "description": seen.description,
        "reference": seen.reference,
        "order_number": seen.order_number,
        "primary_contact_id": seen.primary_contact_id,
    }
    for name, value in update.changes.items():
        # null resets the contact person to the contact's primary one, which we cannot know.
        if name == "primary_contact_id" and value is None:
            continue
        if now[name] != value:
            wrong.append(GRAPHQL_NAMES[name])
    values = {int(f.id): f.value for f in seen.custom_fields if is_native_id(f.id)}
    for change in update.custom_fields or ():
        if values.get(int(change.id)) != change.value:
            wrong.append(f"customFields[{change.id}]")
    return wrong


def result_refusal(
    status: JobResultStatus, result: str, job_type: BigChangeJobType
) -> JobError | None:
    """The result must be one of the job type's options for ``status``, exactly as written."""
    options = job_type.results_for(status)
    if result in options:
        return None
    kind = "positive" if status is JobResultStatus.COMPLETED_OK else "negative"
    listed = ", ".join(repr(o) for o in options) or "none"
    reason = f"Must be exactly one of the {kind} results (case and spaces count): {listed}."
    return JobError(
        ErrorCode.VALIDATION_FAILED,
        f"{result!r} is not a {kind} result of job type '{job_type.name}' ({job_type.id}). "
        f"Accepted: {listed}.",
        field_errors=(FieldError("result", (reason,)),),
    )
