"""Workflow Manager manage rules: rule keys, allowed actions, pre-checks, visible changes."""

from __future__ import annotations

import pytest

from jobgate.domain import ErrorCode, JobAction, JobStatus
from jobgate.domain.workflow_manager import (
    CLOSED,
    OPEN,
    OPEN_DIAGRAM_UNKNOWN,
    OPEN_LATEST,
    OPEN_OUTDATED_STEP,
    RULES,
    RUNNING,
    CurrentStep,
    WorkflowManagerDetails,
    change_visible,
    key_of,
    refusal,
    rule_key,
    steps_in_diagram,
)

C, R, U, D = JobAction.CLOSE, JobAction.REOPEN, JobAction.UPGRADE, JobAction.DELETE


def step(step_id: str = "s1") -> CurrentStep:
    return CurrentStep(step_id, "Edit", "User", "ana")


@pytest.mark.parametrize(
    ("closed", "running", "in_latest", "key"),
    [
        (False, False, True, OPEN),
        (False, False, False, OPEN_OUTDATED_STEP),
        (False, True, True, RUNNING),
        (False, True, False, RUNNING),
        (True, False, True, CLOSED),
        (True, False, False, CLOSED),
        (True, False, None, CLOSED),
        (False, False, None, OPEN_DIAGRAM_UNKNOWN),
        (False, True, None, RUNNING),
    ],
)
def test_rule_key(closed: bool, running: bool, in_latest: bool | None, key: str) -> None:
    assert rule_key(closed=closed, running=running, steps_in_latest=in_latest) == key


@pytest.mark.parametrize(
    ("key", "status", "allowed"),
    [
        (OPEN, JobStatus.OPEN, {C, U, D}),
        (OPEN_OUTDATED_STEP, JobStatus.OPEN, {C, D}),
        (OPEN_DIAGRAM_UNKNOWN, JobStatus.OPEN, {C, D}),
        (OPEN_LATEST, JobStatus.OPEN, {C, D}),
        (RUNNING, JobStatus.IN_PROGRESS, set()),
        (CLOSED, JobStatus.CLOSED, {R, D}),
    ],
)
def test_status_and_allowed_actions(key: str, status: JobStatus, allowed: set[JobAction]) -> None:
    assert RULES.status_of(key) is status
    assert RULES.allowed_actions(key) == allowed
    for action in (C, R, U, D):
        refused = refusal(action, key, "Ready")
        assert (refused is None) == (action in allowed), (key, action)


def test_only_manage_actions_are_offered_and_all_of_them_in_batches() -> None:
    assert RULES.supported == RULES.batch == {C, R, U, D}
    refused = refusal(JobAction.CANCEL, OPEN, "Ready")
    assert refused is not None and refused.code is ErrorCode.UNSUPPORTED_ACTION


def test_refusal_names_the_reason_and_the_job_status() -> None:
    refused = refusal(C, RUNNING, "Working")
    assert refused is not None
    assert refused.code is ErrorCode.INVALID_STATE
    assert refused.provider_status == "Working"
    assert "running" in refused.message and "'Working'" in refused.message
    upgrade = refusal(U, OPEN_OUTDATED_STEP, "Ready")
    assert upgrade is not None and "missing from the latest diagram" in upgrade.message
    again = refusal(C, CLOSED, "Closed")
    assert again is not None and "already closed" in again.message


def test_a_job_on_the_latest_version_has_nothing_to_upgrade() -> None:
    assert (
        rule_key(closed=False, running=False, steps_in_latest=True, on_latest=True) == OPEN_LATEST
    )
    refused = refusal(U, OPEN_LATEST, "Ready")
    assert refused is not None and "already on the latest diagram version" in refused.message


def test_steps_in_diagram() -> None:
    assert steps_in_diagram([step("s1"), step("s2")], {"s1", "s2", "s3"})
    assert not steps_in_diagram([step("s9")], {"s1"})
    assert steps_in_diagram([], {"s1"}), "a job on no step has nothing missing"


def test_key_of_details() -> None:
    def details(closed: bool, running: bool, in_latest: bool | None) -> str:
        return key_of(
            WorkflowManagerDetails(
                job_name=None,
                description=None,
                job_status=None,
                closed=closed,
                running=running,
                priority=None,
                percent_complete=None,
                diagram_id="d1",
                diagram_version=1,
                diagram_name=None,
                latest_diagram_version=None,
                job_template_id=None,
                job_template_name=None,
                created_date=None,
                due_date=None,
                end_date=None,
                owned_by=None,
                archived=None,
                current_steps=(step(),),
                steps_in_latest_diagram=in_latest,
            )
        )

    assert details(False, False, True) == OPEN
    assert details(False, False, False) == OPEN_OUTDATED_STEP
    assert details(False, True, True) == RUNNING
    assert details(False, False, None) == OPEN_DIAGRAM_UNKNOWN
    assert details(True, False, None) == CLOSED


@pytest.mark.parametrize(
    ("action", "closed", "version", "latest", "visible"),
    [
        (C, True, 1, None, True),
        (C, False, 1, 1, False),
        (R, False, 1, 1, True),
        (R, True, 1, None, False),
        (U, False, 3, 3, True),
        (U, False, 2, 3, False),
        (U, False, 3, None, False),
        (U, True, 3, 3, False),
        (D, False, 1, 1, False),
    ],
)
def test_change_visible(
    action: JobAction, closed: bool, version: int, latest: int | None, visible: bool
) -> None:
    seen = change_visible(action, closed=closed, diagram_version=version, latest=latest)
    assert seen is visible
