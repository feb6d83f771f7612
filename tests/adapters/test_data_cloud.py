"""The Data Cloud adapter against its simulator, through httpx."""

from __future__ import annotations

import pytest

from jobgate.domain import ActionRequest, ErrorCode, Job, JobAction, JobError, JobStatus, Provider
from jobgate.simulators.data_cloud import STATES
from tests.harness import adapter, vendor

PATCH = r".*/api/v1/ingest/jobs/[^/]+"


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", [JobAction.CLOSE, JobAction.ABORT])
async def test_every_state_and_action(state: str, action: JobAction) -> None:
    sim = vendor(Provider.DATA_CLOUD, seeded=False)
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
    sim = vendor(Provider.DATA_CLOUD, seeded=False)
    job_id = sim.store.add("UploadComplete", object="Lead")["id"]
    async with adapter(sim) as (provider, _):
        [job, missing] = await provider.read_jobs([job_id, "7505e000009ZZZZAAW"])
    assert isinstance(job, Job)
    assert job.status is JobStatus.QUEUED
    assert job.allowed_actions == frozenset()
    assert job.details.object == "Lead"  # type: ignore[attr-defined]
    assert missing is None
