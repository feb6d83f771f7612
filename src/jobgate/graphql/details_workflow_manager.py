"""The GraphQL types for an ArcGIS Workflow Manager job's own fields (``Job.details``)."""

from __future__ import annotations

import strawberry

from jobgate.domain.workflow_manager import CurrentStep, WorkflowManagerDetails


@strawberry.type(description="A step a Workflow Manager job is currently on.")
class WorkflowStep:
    step_id: str
    step_name: str | None
    step_status: str | None = strawberry.field(description="`Working` means the job is running.")
    assigned_type: str | None = strawberry.field(description="User, Group, ...")
    assigned_to: str | None

    @classmethod
    def from_domain(cls, step: CurrentStep) -> WorkflowStep:
        return cls(
            step_id=step.step_id,
            step_name=step.step_name,
            step_status=step.step_status,
            assigned_type=step.assigned_type,
            assigned_to=step.assigned_to,
        )


@strawberry.type(description="ArcGIS Workflow Manager job fields.")
class WorkflowManagerJobDetails:
    job_name: str | None
    description: str | None
    job_status: str | None = strawberry.field(description="The upstream's jobStatus, verbatim.")
    closed: bool
    priority: str | None
    percent_complete: int | None
    diagram_id: str | None
    diagram_version: int | None
    latest_diagram_version: int | None = strawberry.field(
        description="The diagram's newest version; null for a closed job (not looked up)."
    )
    current_step_in_latest_diagram: bool | None = strawberry.field(
        description="False when a current step is missing from the latest diagram version, "
        "which rules out UPGRADE; null for a closed job."
    )
    job_template_id: str | None
    created_date: str | None
    current_steps: list[WorkflowStep]

    @classmethod
    def from_domain(cls, details: WorkflowManagerDetails) -> WorkflowManagerJobDetails:
        return cls(
            job_name=details.job_name,
            description=details.description,
            job_status=details.job_status,
            closed=details.closed,
            priority=details.priority,
            percent_complete=details.percent_complete,
            diagram_id=details.diagram_id,
            diagram_version=details.diagram_version,
            latest_diagram_version=details.latest_diagram_version,
            current_step_in_latest_diagram=details.steps_in_latest_diagram,
            job_template_id=details.job_template_id,
            created_date=details.created_date,
            current_steps=[WorkflowStep.from_domain(s) for s in details.current_steps],
        )
