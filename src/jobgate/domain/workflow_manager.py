"""ArcGIS Workflow Manager jobs: manage rules, pre-checks and details (PROVIDERS.md §4)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from jobgate.domain.errors import ErrorCode, JobError
from jobgate.domain.jobs import JobAction, JobDetails, JobStatus
from jobgate.domain.providers import KeyKind, OptionKey, Provider, SourceKeys
from jobgate.domain.rules import StateTable, unsupported

WORKFLOW_MANAGER = Provider(
    name="WORKFLOW_MANAGER",
    key="workflow-manager",
    label="Workflow Manager",
    keys=SourceKeys(
        auth=(
            (frozenset({"token"}), frozenset()),
            (frozenset({"client_id", "client_secret"}), frozenset({"token_url"})),
        ),
        # The jobStatus values that mean a job is running (the organisation configures them).
        optional=frozenset({"running_statuses"}),
        options={"running_statuses": OptionKey(KeyKind.TEXT_LIST)},
    ),
)

# Rule keys. A Workflow Manager job has no single state field that decides what it accepts:
# ``closed``, whether it is running, and whether its current steps still exist in the latest
# diagram version do, so the table is looked up by a key built from those three. Current steps
# carry no status: a job is running when its ``jobStatus`` is one of the statuses the source
# names as running (the organisation configures them; "Working" with automatic status
# assignment). When the latest diagram could not be read, whether Upgrade is possible is unknown.
CLOSED = "closed"
RUNNING = "running"
OPEN = "open"  # on an older diagram version whose latest still has its current steps
OPEN_LATEST = "open-latest"  # already on the latest diagram version
OPEN_OUTDATED_STEP = "open-outdated-step"
OPEN_DIAGRAM_UNKNOWN = "open-diagram-unknown"

DEFAULT_RUNNING_STATUSES = ("Working",)

MANAGED = frozenset({JobAction.CLOSE, JobAction.REOPEN, JobAction.UPGRADE, JobAction.DELETE})

# Close and Delete are refused while running, Reopen while open, Upgrade while closed, running,
# or when the current step is missing from the latest diagram. Closing a closed job and
# upgrading a job already on the latest version are refused here too: the upstream would only
# answer a no-op, which the caller cannot tell from the change.
RULES = StateTable(
    provider=WORKFLOW_MANAGER,
    statuses={
        OPEN: JobStatus.OPEN,
        OPEN_LATEST: JobStatus.OPEN,
        OPEN_OUTDATED_STEP: JobStatus.OPEN,
        OPEN_DIAGRAM_UNKNOWN: JobStatus.OPEN,
        RUNNING: JobStatus.IN_PROGRESS,
        CLOSED: JobStatus.CLOSED,
    },
    allowed={
        OPEN: frozenset({JobAction.CLOSE, JobAction.UPGRADE, JobAction.DELETE}),
        OPEN_LATEST: frozenset({JobAction.CLOSE, JobAction.DELETE}),
        OPEN_OUTDATED_STEP: frozenset({JobAction.CLOSE, JobAction.DELETE}),
        OPEN_DIAGRAM_UNKNOWN: frozenset({JobAction.CLOSE, JobAction.DELETE}),
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

_WHY = {
    CLOSED: "it is closed",
    RUNNING: "it is running (its job status is one of the source's running statuses)",
    OPEN: "it is open",
    OPEN_LATEST: "it is already on the latest diagram version",
    OPEN_OUTDATED_STEP: "its current step is missing from the latest diagram version",
    OPEN_DIAGRAM_UNKNOWN: "its latest diagram version could not be read",
}


@dataclass(frozen=True, slots=True)
class CurrentStep:
    """A step the job is on, as Esri's CurrentStep model has it (no step status)."""

    step_id: str
    step_name: str | None
    assigned_type: str | None
    assigned_to: str | None
    can_skip: bool | None = None
    manual_hold: bool | None = None
    hold_scheduled_release: str | None = None
    dependencies: bool | None = None


@dataclass(frozen=True, slots=True)
class WorkflowManagerDetails(JobDetails):
    job_name: str | None
    description: str | None
    job_status: str | None
    closed: bool
    # Whether ``job_status`` is one of the source's running statuses.
    running: bool
    priority: str | None
    percent_complete: int | None
    diagram_id: str | None
    diagram_version: int | None
    diagram_name: str | None
    # The diagram's newest version when the gateway looked it up (open jobs), else None.
    latest_diagram_version: int | None
    job_template_id: str | None
    job_template_name: str | None
    created_date: str | None
    due_date: str | None
    end_date: str | None
    owned_by: str | None
    archived: bool | None
    current_steps: tuple[CurrentStep, ...]
    # Whether every current step exists in the latest diagram version; None when not looked up
    # (a closed job) or when the diagram could not be read.
    steps_in_latest_diagram: bool | None


def key_of(details: WorkflowManagerDetails) -> str:
    """The ``RULES`` key of a job as read."""
    latest = details.latest_diagram_version
    return rule_key(
        closed=details.closed,
        running=details.running,
        steps_in_latest=details.steps_in_latest_diagram,
        on_latest=latest is not None and details.diagram_version == latest,
    )


def steps_in_diagram(steps: Iterable[CurrentStep], diagram_step_ids: Collection[str]) -> bool:
    """Whether every current step exists in the diagram (a job with none has nothing missing)."""
    return all(step.step_id in diagram_step_ids for step in steps)


def rule_key(
    *, closed: bool, running: bool, steps_in_latest: bool | None, on_latest: bool = False
) -> str:
    if closed:
        return CLOSED
    if running:
        return RUNNING
    if steps_in_latest is None:
        return OPEN_DIAGRAM_UNKNOWN
    if on_latest:
        return OPEN_LATEST
    return OPEN if steps_in_latest else OPEN_OUTDATED_STEP


def refusal(action: JobAction, key: str, job_status: str) -> JobError | None:
    """Why ``action`` must not be sent for a job under ``key``, or ``None`` when it may."""
    if action not in RULES.supported:
        return unsupported(WORKFLOW_MANAGER, action)
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
