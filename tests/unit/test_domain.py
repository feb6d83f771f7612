"""Pure domain rules: ids, state tables, Data Cloud's lifecycle."""

from __future__ import annotations

import pytest

from jobgate.domain import (
    ErrorCode,
    JobAction,
    JobError,
    JobId,
    JobStatus,
    JobUpdate,
    parse_job_id,
)
from jobgate.domain.data_cloud import DATA_CLOUD as DATA_CLOUD_PROVIDER
from jobgate.domain.data_cloud import RULES as DATA_CLOUD
from jobgate.domain.rules import StateTable

SOURCES = {"ingest", "hub"}


def test_parse_valid_id() -> None:
    assert parse_job_id("ingest:7505e000001NLkPAAW", SOURCES) == JobId(
        "ingest", "7505e000001NLkPAAW"
    )


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("7505e000001NLkPAAW", "no source prefix"),
        ("nope:123", "unknown source 'nope'"),
        ("ingest:", "invalid native id"),
        ("ingest:../../admin", "invalid native id"),
        ("ingest:a b", "invalid native id"),
        ("ingest:a?x=1", "invalid native id"),
        ("ingest:" + "x" * 300, "longer than"),
        ("", "no source prefix"),
        (":x", "unknown source ''"),
    ],
)
def test_parse_invalid_ids(raw: str, fragment: str) -> None:
    error = parse_job_id(raw, SOURCES)
    assert isinstance(error, JobError)
    assert error.code is ErrorCode.INVALID_ID
    assert fragment in error.message


def test_native_id_may_contain_colons_only_after_the_first() -> None:
    # The first colon separates source and id; a second one makes the native id invalid.
    assert isinstance(parse_job_id("ingest:a:b", SOURCES), JobError)


@pytest.mark.parametrize(
    ("state", "status", "allowed"),
    [
        ("Open", JobStatus.OPEN, {JobAction.CLOSE, JobAction.ABORT}),
        ("UploadComplete", JobStatus.QUEUED, set()),
        ("InProgress", JobStatus.IN_PROGRESS, set()),
        ("JobComplete", JobStatus.COMPLETED, set()),
        ("Failed", JobStatus.FAILED, set()),
        ("Aborted", JobStatus.ABORTED, set()),
    ],
)
def test_data_cloud_lifecycle(state: str, status: JobStatus, allowed: set[JobAction]) -> None:
    assert DATA_CLOUD.status_of(state) is status
    assert DATA_CLOUD.allowed_actions(state) == allowed
    for action in JobAction:
        refusal = DATA_CLOUD.refusal(action, state)
        if action in allowed:
            assert refusal is None
        elif action in DATA_CLOUD.supported:
            assert refusal is not None and refusal.code is ErrorCode.INVALID_STATE
            assert refusal.provider_status == state
            assert state in refusal.message
        else:
            assert refusal is not None and refusal.code is ErrorCode.UNSUPPORTED_ACTION


def test_unknown_upstream_state_accepts_nothing() -> None:
    assert DATA_CLOUD.allowed_actions("SomethingNew") == frozenset()
    refusal = DATA_CLOUD.refusal(JobAction.CLOSE, "SomethingNew")
    assert refusal is not None and refusal.code is ErrorCode.INVALID_STATE


def test_state_table_rejects_inconsistent_tables() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        StateTable(
            provider=DATA_CLOUD_PROVIDER,
            statuses={"Open": JobStatus.OPEN},
            allowed={"Open": frozenset({JobAction.CANCEL})},
            supported=frozenset({JobAction.CLOSE}),
        )
    with pytest.raises(ValueError, match="unknown state"):
        StateTable(
            provider=DATA_CLOUD_PROVIDER,
            statuses={},
            allowed={"Open": frozenset()},
            supported=frozenset(),
        )


def test_job_update_knows_its_fields() -> None:
    assert JobUpdate(changes={"description": None}).changes == {"description": None}
    with pytest.raises(ValueError, match="unknown update fields"):
        JobUpdate(changes={"colour": "blue"})
