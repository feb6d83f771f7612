"""BigChange's pure rules: status mapping, allowed actions, locked fields, exact result match."""

from __future__ import annotations

import pytest

from jobgate.domain import (
    CustomFieldChange,
    ErrorCode,
    JobAction,
    JobResultStatus,
    JobStatus,
    JobUpdate,
)
from jobgate.domain.bigchange import (
    LATE_STATUSES,
    LOCKED_STATES,
    RULES,
    BigChangeDetails,
    BigChangeJobType,
    CustomFieldValue,
    is_native_id,
    patch_body,
    result_refusal,
    update_mismatches,
    update_refusal,
)
from jobgate.simulators.bigchange import STATUSES

BOILER = BigChangeJobType(5, "Boiler service", ("Fixed",), ("No access", "Parts needed"))


def details(**overrides: object) -> BigChangeDetails:
    values: dict[str, object] = {
        "type_id": 5,
        "contact_id": "77",
        "primary_contact_id": "person-1",
        "description": "Annual boiler service",
        "reference": "JOB-1",
        "order_number": None,
        "planned_duration": 60,
        "result": None,
        "custom_fields": (CustomFieldValue("9", "blue"),),
        "job_type": BOILER,
    }
    values.update(overrides)
    return BigChangeDetails(**values)  # type: ignore[arg-type]


EXPECTED_STATUS = {
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


def test_every_simulated_status_is_mapped() -> None:
    assert set(STATUSES) == set(EXPECTED_STATUS) == set(RULES.statuses) - set(LATE_STATUSES)


@pytest.mark.parametrize("state", [*LATE_STATUSES, "somethingNew"])
def test_late_and_unknown_statuses_read_but_accept_nothing(state: str) -> None:
    assert RULES.allowed_actions(state) == frozenset()
    assert RULES.refusal(JobAction.UPDATE, state) is not None


@pytest.mark.parametrize(("state", "status"), EXPECTED_STATUS.items())
def test_status_mapping(state: str, status: JobStatus) -> None:
    assert RULES.status_of(state) is status


@pytest.mark.parametrize("state", STATUSES)
def test_allowed_actions(state: str) -> None:
    expected = set()
    if state != "cancelled":
        expected.add(JobAction.UPDATE)
    if state == "started":
        expected.add(JobAction.SET_RESULT)
    assert RULES.allowed_actions(state) == expected


def test_unknown_state_accepts_nothing() -> None:
    assert RULES.allowed_actions("archived") == frozenset()
    assert RULES.refusal(JobAction.UPDATE, "archived") is not None


def test_other_actions_are_unsupported() -> None:
    error = RULES.refusal(JobAction.CANCEL, "new")
    assert error is not None and error.code is ErrorCode.UNSUPPORTED_ACTION


def test_set_result_outside_started_is_invalid_state() -> None:
    error = RULES.refusal(JobAction.SET_RESULT, "onTheWay")
    assert error is not None and error.code is ErrorCode.INVALID_STATE
    assert error.provider_status == "onTheWay"


@pytest.mark.parametrize("value", ["1", "1009", "123456789012345678"])
def test_native_ids_are_numbers(value: str) -> None:
    assert is_native_id(value)


@pytest.mark.parametrize("value", ["", "abc", "12a", "-1", "1.5", "1234567890123456789", "١٢"])
def test_non_numeric_native_ids(value: str) -> None:
    assert not is_native_id(value)


@pytest.mark.parametrize("state", sorted(LOCKED_STATES))
@pytest.mark.parametrize(
    ("field", "graphql", "value"),
    [
        ("description", "description", "New words"),
        ("primary_contact_id", "primaryContactId", "person-2"),
        ("primary_contact_id", "primaryContactId", None),
    ],
)
def test_locked_fields_once_started(
    state: str, field: str, graphql: str, value: str | None
) -> None:
    error = update_refusal(state, details(), JobUpdate(changes={field: value}))
    assert error is not None
    assert error.code is ErrorCode.VALIDATION_FAILED
    assert [f.field for f in error.field_errors] == [graphql]
    assert error.provider_status == state


@pytest.mark.parametrize("state", ["new", "accepted", "onTheWay", "refused"])
def test_locked_fields_change_before_start(state: str) -> None:
    update = JobUpdate(changes={"description": "New words", "primary_contact_id": None})
    assert update_refusal(state, details(), update) is None


def test_resending_a_locked_fields_value_is_no_change() -> None:
    update = JobUpdate(changes={"description": "Annual boiler service", "reference": "R-2"})
    assert update_refusal("started", details(), update) is None


def test_other_fields_change_after_start() -> None:
    update = JobUpdate(changes={"order_number": "PO-1", "planned_duration": 30, "reference": None})
    assert update_refusal("completedOk", details(), update) is None


def test_non_numeric_custom_field_id_is_refused() -> None:
    update = JobUpdate(custom_fields=(CustomFieldChange("colour", "red"),))
    error = update_refusal("new", details(), update)
    assert error is not None and error.code is ErrorCode.VALIDATION_FAILED
    assert error.field_errors[0].field == "customFields"
    assert "'colour'" in error.message


def test_empty_update_is_refused() -> None:
    error = update_refusal("new", details(), JobUpdate())
    assert error is not None and error.code is ErrorCode.VALIDATION_FAILED


def test_patch_body_keeps_omitted_out_and_nulls_in() -> None:
    update = JobUpdate(
        changes={"reference": None, "primary_contact_id": "p-2", "planned_duration": 15},
        custom_fields=(CustomFieldChange("9", None), CustomFieldChange("12", "4471")),
    )
    assert patch_body(update) == {
        "reference": None,
        "contactPersonId": "p-2",
        "plannedDuration": 15,
        "customFields": [{"id": 9, "value": None}, {"id": 12, "value": "4471"}],
    }
    assert patch_body(JobUpdate(custom_fields=())) == {"customFields": []}
    assert patch_body(JobUpdate(changes={"order_number": "X"})) == {"orderNumber": "X"}


def test_update_mismatches_names_what_the_read_back_lacks() -> None:
    update = JobUpdate(
        changes={"reference": "R-9", "primary_contact_id": None, "order_number": None},
        custom_fields=(CustomFieldChange("9", None), CustomFieldChange("12", "1")),
    )
    seen = details(reference="JOB-1", custom_fields=(CustomFieldValue("9", "blue"),))
    assert update_mismatches(update, seen) == ["reference", "customFields[9]", "customFields[12]"]
    done = details(reference="R-9", custom_fields=(CustomFieldValue("12", "1"),))
    assert update_mismatches(update, done) == []


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (JobResultStatus.COMPLETED_OK, "Fixed"),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "No access"),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "Parts needed"),
    ],
)
def test_exact_results_are_accepted(status: JobResultStatus, result: str) -> None:
    assert result_refusal(status, result, BOILER) is None


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (JobResultStatus.COMPLETED_OK, "fixed"),
        (JobResultStatus.COMPLETED_OK, "FIXED"),
        (JobResultStatus.COMPLETED_OK, "Fixed "),
        (JobResultStatus.COMPLETED_OK, " Fixed"),
        (JobResultStatus.COMPLETED_OK, "Fixed\n"),
        (JobResultStatus.COMPLETED_OK, ""),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "No  access"),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "no access"),
        # A negative result is not a positive one, and the other way round.
        (JobResultStatus.COMPLETED_OK, "No access"),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "Fixed"),
    ],
)
def test_results_must_match_exactly(status: JobResultStatus, result: str) -> None:
    error = result_refusal(status, result, BOILER)
    assert error is not None
    assert error.code is ErrorCode.VALIDATION_FAILED
    [field] = error.field_errors
    assert field.field == "result"
    options = BOILER.results_for(status)
    assert all(repr(o) in field.messages[0] for o in options)
    assert all(repr(o) in error.message for o in options)


def test_a_type_without_options_accepts_nothing() -> None:
    bare = BigChangeJobType(3, "Survey", (), ())
    error = result_refusal(JobResultStatus.COMPLETED_OK, "Done", bare)
    assert error is not None and "none" in error.field_errors[0].messages[0]
