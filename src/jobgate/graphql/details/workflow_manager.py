"""The GraphQL types for an ArcGIS Workflow Manager job's own fields (``Job.details``)."""

from __future__ import annotations

import strawberry

from jobgate.domain.workflow_manager import CurrentStep, WorkflowManagerDetails


@strawberry.type(description="A step a Workflow Manager job is currently on (Esri's CurrentStep).")
class WorkflowStep:
    step_id: str
    step_name: str | None
    assigned_type: str | None = strawberry.field(description="User, Group, Unassigned ...")
    assigned_to: str | None
    can_skip: bool | None = strawberry.field(
        description="Whether the step can be completed without first being run."
    )
    manual_hold: bool | None = strawberry.field(description="A manual hold is on the step.")
    hold_scheduled_release: str | None = strawberry.field(
        description="When a scheduled hold on the step is released."
    )
    dependencies: bool | None = strawberry.field(description="The step has job dependencies.")

    @classmethod
    def from_domain(cls, step: CurrentStep) -> WorkflowStep:
        return cls(
            step_id=step.step_id,
            step_name=step.step_name,
            assigned_type=step.assigned_type,
            assigned_to=step.assigned_to,
            can_skip=step.can_skip,
            manual_hold=step.manual_hold,
            hold_scheduled_release=step.hold_scheduled_release,
            dependencies=step.dependencies,
        )


@strawberry.type(description="ArcGIS Workflow Manager job fields.")
class WorkflowManagerJobDetails:
    job_name: str | None
    description: str | None
    job_status: str | None = strawberry.field(description="The upstream's jobStatus, verbatim.")
    closed: bool
    running: bool = strawberry.field(
        description="Whether `jobStatus` is one of the source's `running_statuses` "
        '(default ["Working"]): a running job cannot be closed, upgraded or deleted.'
    )
    priority: str | None
    percent_complete: int | None
    diagram_id: str | None
    diagram_version: int | None
    diagram_name: str | None
    latest_diagram_version: int | None = strawberry.field(
        description="The diagram's newest version; null for a closed job (not looked up) or "
        "when the diagram could not be read (see `Job.warnings`)."
    )
    current_step_in_latest_diagram: bool | None = strawberry.field(
        description="False when a current step is missing from the latest diagram version, "
        "which rules out UPGRADE; null when not known."
    )
    job_template_id: str | None
    job_template_name: str | None
    created_date: str | None
    due_date: str | None
    end_date: str | None
    owned_by: str | None
    archived: bool | None
    current_steps: list[WorkflowStep]

    @classmethod
    def from_domain(cls, details: WorkflowManagerDetails) -> WorkflowManagerJobDetails:
        return cls(
            job_name=details.job_name,
            description=details.description,
            job_status=details.job_status,
            closed=details.closed,
            running=details.running,
            priority=details.priority,
            percent_complete=details.percent_complete,
            diagram_id=details.diagram_id,
            diagram_version=details.diagram_version,
            diagram_name=details.diagram_name,
            latest_diagram_version=details.latest_diagram_version,
            current_step_in_latest_diagram=details.steps_in_latest_diagram,
            job_template_id=details.job_template_id,
            job_template_name=details.job_template_name,
            created_date=details.created_date,
            due_date=details.due_date,
            end_date=details.end_date,
            owned_by=details.owned_by,
            archived=details.archived,
            current_steps=[WorkflowStep.from_domain(s) for s in details.current_steps],
        )


JOB_DETAILS = WorkflowManagerJobDetails
