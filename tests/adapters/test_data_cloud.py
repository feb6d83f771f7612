"""The Data Cloud adapter against its simulator, through httpx."""

from __future__ import annotations

import pytest

from jobgate.domain import ActionRequest, ErrorCode, Job, JobAction, JobError, JobStatus
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.simulators.data_cloud import STATES
from jobgate.simulators.faults import Fault
from tests.harness import adapter, vendor

PATCH = r".*/api/v1/ingest/jobs/[^/]+"


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", [JobAction.CLOSE, JobAction.ABORT])
async def test_every_state_and_action(state: str, action: JobAction) -> None:
    sim = vendor(DATA_CLOUD, seeded=False)
    job_id = sim.store.add(state)["id"]
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(ActionRequest(action), [job_id])
    target = {JobAction.CLOSE: "UploadComplete", JobAction.ABORT: "Aborted"}[action]
    if state == "Open":
        assert isinstance(outcome, Job)
        assert outcome.provider_status == target
        assert sim.store.jobs[job_id]["state"] == target
        assert faults.calls("PATCH", PATCH) == 1
    else:
        assert isinstance(outcome, JobError)
        assert outcome.code is ErrorCode.INVALID_STATE
        assert outcome.provider_status == state
        assert faults.calls("PATCH", PATCH) == 0, "a refused action must not be sent"
        assert sim.store.jobs[job_id]["state"] == state


async def test_read_maps_status_and_details() -> None:
    sim = vendor(DATA_CLOUD, seeded=False)
    job_id = sim.store.add("UploadComplete", object="Lead")["id"]
    async with adapter(sim) as (provider, _):
        [job, missing] = await provider.read_jobs([job_id, "7505e000009ZZZZAAW"])
    assert isinstance(job, Job)
    assert job.status is JobStatus.QUEUED
    assert job.allowed_actions == frozenset()
    assert job.details.object == "Lead"  # type: ignore[attr-defined]
    assert missing is None


async def test_wrong_token_is_unauthenticated_with_salesforce_words() -> None:
    sim = vendor(DATA_CLOUD)
    async with adapter(sim, token="not-a-valid-token") as (provider, _):
        [error] = await provider.read_jobs(["7505e000001NLkPAAW"])
    assert isinstance(error, JobError)
    assert error.code is ErrorCode.UNAUTHENTICATED
    assert error.message == "Session expired or invalid"
    assert error.upstream_code == "INVALID_SESSION_ID"
    assert "expired" not in (error.detail or "")


async def test_upstream_refusing_the_transition_is_invalid_state() -> None:
    # The job was Open when read, but the upstream refuses (it moved on in between).
    sim = vendor(DATA_CLOUD, seeded=False)
    job_id = sim.store.add("Open")["id"]
    async with adapter(sim) as (provider, faults):
        faults.add(
            Fault(
                "PATCH",
                PATCH,
                "status",
                status=400,
                body=b'[{"errorCode":"InvalidJobState","message":"The job state specified '
                b'in a job update operation is invalid."}]',
            )
        )
        [outcome] = await provider.perform(ActionRequest(JobAction.CLOSE), [job_id])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.INVALID_STATE
    assert outcome.upstream_code == "InvalidJobState"
    assert "job update operation is invalid" in outcome.message


async def test_unknown_job_on_write_is_not_found_without_patch() -> None:
    sim = vendor(DATA_CLOUD, seeded=False)
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(ActionRequest(JobAction.ABORT), ["7505e000009ZZZZAAW"])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.NOT_FOUND
    assert faults.calls("PATCH") == 0


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (
            Fault("GET", ".*", "status", status=500, body=b"Internal Server Error"),
            ErrorCode.UPSTREAM_UNAVAILABLE,
        ),
        (
            Fault("GET", ".*", "status", status=503, headers={"Retry-After": "1"}),
            ErrorCode.UPSTREAM_UNAVAILABLE,
        ),
        (
            Fault(
                "GET",
                ".*",
                "status",
                status=429,
                body=b'[{"errorCode":"REQUEST_LIMIT_EXCEEDED","message":"Too many requests"}]',
            ),
            ErrorCode.RATE_LIMITED,
        ),
        (Fault("GET", ".*", "garbage"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (
            Fault("GET", ".*", "garbage", body=b'["a list", "not a job"]'),
            ErrorCode.UPSTREAM_UNAVAILABLE,
        ),
        (Fault("GET", ".*", "garbage", body=b'{"id": "x"}'), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("GET", ".*", "refuse"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("GET", ".*", "delay", delay=5), ErrorCode.UPSTREAM_TIMEOUT),
    ],
)
async def test_read_faults_map_to_codes(fault: Fault, code: ErrorCode) -> None:
    # Retries are off: this is about how each fault maps; tests/resilience covers retrying.
    sim = vendor(DATA_CLOUD)
    async with adapter(sim, timeout=0.2, retries=0) as (provider, faults):
        faults.add(fault)
        [error] = await provider.read_jobs(["7505e000001NLkPAAW"])
        assert isinstance(error, JobError)
        assert error.code is code
        # The next read is answered normally.
        [job] = await provider.read_jobs(["7505e000001NLkPAAW"])
        assert isinstance(job, Job)


async def test_lost_answer_after_write_is_settled_by_reading_back() -> None:
    sim = vendor(DATA_CLOUD, seeded=False)
    job_id = sim.store.add("Open")["id"]
    async with adapter(sim) as (provider, faults):
        faults.add(Fault("PATCH", PATCH, "drop-after"))
        [outcome] = await provider.perform(ActionRequest(JobAction.CLOSE), [job_id])
        assert isinstance(outcome, Job)
        assert outcome.provider_status == "UploadComplete"
        assert faults.calls("PATCH", PATCH) == 1, "a write is never retried"


async def test_write_timeout_with_job_unchanged_is_outcome_unknown() -> None:
    sim = vendor(DATA_CLOUD, seeded=False)
    job_id = sim.store.add("Open")["id"]
    async with adapter(sim, timeout=0.2) as (provider, faults):
        # The write is too slow to answer in time and has not been applied when read back.
        faults.add(Fault("PATCH", PATCH, "delay", delay=5))
        [outcome] = await provider.perform(ActionRequest(JobAction.ABORT), [job_id])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert "state 'Open'" in outcome.message
    assert faults.calls("PATCH", PATCH) <= 1


async def test_write_timeout_and_read_back_failure_is_outcome_unknown() -> None:
    sim = vendor(DATA_CLOUD, seeded=False)
    job_id = sim.store.add("Open")["id"]
    async with adapter(sim, timeout=0.2) as (provider, faults):
        # Faults apply in order: the pre-check GET passes, the PATCH loses its answer,
        # and every later GET (the read-back) fails.
        faults.add(Fault("GET", PATCH, "delay", delay=0, times=1))
        faults.add(Fault("PATCH", PATCH, "drop-after"))
        faults.add(Fault("GET", PATCH, "status", status=503, times=-1))
        [outcome] = await provider.perform(ActionRequest(JobAction.ABORT), [job_id])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert "Reading the job back failed too" in outcome.message


async def test_ok_answer_without_the_new_state_is_checked() -> None:
    sim = vendor(DATA_CLOUD, seeded=False)
    job_id = sim.store.add("Open")["id"]
    stale = (
        b'{"id":"' + job_id.encode() + b'","state":"Open","object":"Contact","operation":"upsert"}'
    )
    async with adapter(sim) as (provider, faults):
        faults.add(Fault("PATCH", PATCH, "status", status=200, body=stale))
        [outcome] = await provider.perform(ActionRequest(JobAction.CLOSE), [job_id])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert sim.store.jobs[job_id]["state"] == "Open"


async def test_simulator_processing_moves_closed_jobs_on() -> None:
    sim = vendor(DATA_CLOUD, seeded=False)
    job_id = sim.store.add("UploadComplete")["id"]
    assert sim.store.advance(job_id) == "InProgress"
    assert sim.store.advance(job_id, fail=True) == "Failed"
    async with adapter(sim) as (provider, _):
        [job] = await provider.read_jobs([job_id])
    assert isinstance(job, Job) and job.status is JobStatus.FAILED
