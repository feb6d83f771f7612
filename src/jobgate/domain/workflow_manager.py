"""ArcGIS Workflow Manager jobs: manage rules, pre-checks and details (PROVIDERS.md §4)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from jobgate.domain.errors import ErrorCode, JobError
from jobgate.domain.jobs import JobAction, JobDetails, JobStatus, Provider
from jobgate.domain.rules import StateTable, unsupported

# Rule keys. A Workflow Manager job has no single state field that decides what it accepts:
# ``closed``, whether a current step is running, and whether its current steps still exist in
# the latest diagram version do, so the table is looked up by a key built from those three.
CLOSED = "closed"
RUNNING = "running"
OPEN = "open"
OPEN_OUTDATED_STEP = "open-outdated-step"

MANAGED = frozenset({JobAction.CLOSE, JobAction.REOPEN, JobAction.UPGRADE, JobAction.DELETE})

# Close and Delete are refused while running, Reopen while open, Upgrade while closed, running,
# or when the current step is missing from the latest diagram. Closing a closed job is refused
# here too: the upstream would only answer a no-op, which the caller cannot tell from a close.
RULES = StateTable(
    provider=Provider.WORKFLOW_MANAGER,
    statuses={
        OPEN: JobStatus.OPEN,
        OPEN_OUTDATED_STEP: JobStatus.OPEN,
        RUNNING: JobStatus.IN_PROGRESS,
        CLOSED: JobStatus.CLOSED,
    },
    allowed={
        OPEN: frozenset({JobAction.CLOSE, JobAction.UPGRADE, JobAction.DELETE}),
        OPEN_OUTDATED_STEP: frozenset({JobAction.CLOSE, JobAction.DELETE}),
        RUNNING: frozenset(),
        CLOSED: frozenset({JobAction.REOPEN, JobAction.DELETE}),
    },
    supported=MANAGED,
    batch=MANAGED,
)

# The ``type`` of ``POST /jobs/manage`` for each action.
MANAGE_TYPES = {
    JobAction.CLOSE: "Close",
    JobAction.REOPEN: "Reopen",
    JobAction.UPGRADE: "Upgrade",
    JobAction.DELETE: "Delete",
}

# Step statuses that mean the job is running. The vendor documents "Working"; its warning
# variant is a running step too, and reading it as idle would let Close through.
RUNNING_STEP_STATUSES = frozenset({"Working", "WorkingWithWarning"})

_WHY = {
    CLOSED: "it is closed",
    RUNNING: "it is running, a current step is Working",
    OPEN: "it is open",
    OPEN_OUTDATED_STEP: "its current step is missing from the latest diagram version",
}


@dataclass(frozen=True, slots=True)
class CurrentStep:
    step_id: str
    step_name: str | None
    step_status: str | None
    assigned_type: str | None
    assigned_to: str | None


@dataclass(frozen=True, slots=True)
class WorkflowManagerDetails(JobDetails):
    job_name: str | None
    description: str | None
    job_status: str | None
    closed: bool
    priority: str | None
    percent_complete: int | None
    diagram_id: str | None
    diagram_version: int | None
    # The diagram's newest version when the gateway looked it up (open jobs), else None.
    latest_diagram_version: int | None
    job_template_id: str | None
    created_date: str | None
    current_steps: tuple[CurrentStep, ...]
    # Whether every current step exists in the latest diagram version; None when not looked up.
    steps_in_latest_diagram: bool | None


def key_of(details: WorkflowManagerDetails) -> str:
    """The ``RULES`` key of a job as read (a step not looked up counts as present)."""
    return rule_key(
        closed=details.closed,
        running=is_running(details.current_steps),
        steps_in_latest=details.steps_in_latest_diagram is not False,
    )


def is_running(steps: Iterable[CurrentStep]) -> bool:
    return any(step.step_status in RUNNING_STEP_STATUSES for step in steps)


def steps_in_diagram(steps: Iterable[CurrentStep], diagram_step_ids: Collection[str]) -> bool:
    """Whether every current step exists in the diagram (a job with none has nothing missing)."""
    return all(step.step_id in diagram_step_ids for step in steps)


def rule_key(*, closed: bool, running: bool, steps_in_latest: bool) -> str:
    if closed:
        return CLOSED
    if running:
        return RUNNING
    return OPEN if steps_in_latest else OPEN_OUTDATED_STEP


def refusal(action: JobAction, key: str, job_status: str) -> JobError | None:
    """Why ``action`` must not be sent for a job under ``key``, or ``None`` when it may."""
    if action not in RULES.supported:
        return unsupported(Provider.WORKFLOW_MANAGER, action)
    if action in RULES.allowed_actions(key):
        return None
    return not_now(action, key, job_status)


def not_now(action: JobAction, key: str, job_status: str) -> JobError:
    """INVALID_STATE naming why the job under ``key`` refuses ``action`` and what it accepts."""
    accepts = ", ".join(sorted(a.verb for a in RULES.allowed_actions(key))) or "no action"
    why = "it is already closed" if action is JobAction.CLOSE and key == CLOSED else _WHY[key]
    return JobError(
        ErrorCode.INVALID_STATE,
        f"Cannot {action.verb} the job in job status '{job_status}': {why} "
        f"(it accepts: {accepts}).",
        provider_status=job_status,
    )


def change_visible(
    action: JobAction, *, closed: bool, diagram_version: int | None, latest: int | None
) -> bool:
    """Whether a job read back shows ``action`` applied (Delete is seen as a missing job)."""
    if action is JobAction.CLOSE:
        return closed
    if action is JobAction.REOPEN:
        return not closed
    if action is JobAction.UPGRADE:
        return not closed and latest is not None and diagram_version == latest
    return False
