"""The BigChange adapter against its simulator, through httpx: reads, updates, results, faults."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from jobgate.domain import (
    ActionRequest,
    CustomFieldChange,
    ErrorCode,
    Job,
    JobAction,
    JobError,
    JobResultStatus,
    JobStatus,
    JobUpdate,
)
from jobgate.domain.bigchange import BIGCHANGE, BigChangeDetails
from jobgate.simulators.bigchange import STATUSES, BigChangeStore
from jobgate.simulators.faults import Fault
from jobgate.simulators.suite import SimulatedVendor
from tests.harness import adapter, vendor

JOB = r".*/v1/jobs/\d+"
RESULT = r".*/v1/jobs/\d+/result"
TYPES = r".*/v1/jobTypes/\d+"


class Recorder(httpx.AsyncBaseTransport):
    """Keeps every request that goes upstream, body included."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        return await self.inner.handle_async_request(request)

    def bodies(self, method: str) -> list[object]:
        return [json.loads(r.content) for r in self.requests if r.method == method]


def update(**changes: str | int | None) -> ActionRequest:
    return ActionRequest(JobAction.UPDATE, update=JobUpdate(changes=changes))


def result(status: JobResultStatus, text: str) -> ActionRequest:
    return ActionRequest(JobAction.SET_RESULT, result_status=status, result=text)


def new_sim(status: str = "new", **job: Any) -> tuple[SimulatedVendor, BigChangeStore, str]:
    """An empty simulator holding one job in ``status``."""
    sim = vendor(BIGCHANGE, seeded=False)
    store: BigChangeStore = sim.store
    return sim, store, str(store.add(status, **job)["id"])


def details_of(job: object) -> BigChangeDetails:
    assert isinstance(job, Job) and isinstance(job.details, BigChangeDetails)
    return job.details


async def test_read_maps_status_details_and_result_options() -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim) as (provider, faults):
        [job, missing, not_a_number] = await provider.read_jobs(["1009", "999999", "abc"])
    assert isinstance(job, Job)
    assert (job.status, job.provider_status) == (JobStatus.IN_PROGRESS, "started")
    assert job.allowed_actions == {JobAction.UPDATE, JobAction.SET_RESULT}
    found = details_of(job)
    assert (found.type_id, found.contact_id, found.reference) == (5, "77", "JOB-1")
    assert found.custom_fields[0].id == "9" and found.custom_fields[0].value == "blue"
    assert found.job_type is not None and found.job_type.name == "Boiler service"
    assert found.job_type.positive_results == ("Fixed",)
    assert found.job_type.negative_results == ("No access", "Parts needed")
    assert missing is None and not_a_number is None
    assert faults.calls("GET", r".*/v1/jobs/abc") == 0


async def test_upstream_calls_are_distinct_jobs_plus_distinct_types() -> None:
    sim = vendor(BIGCHANGE)
    ids = ["1001", "1002", "1004", "1005", "1009", "1010"]  # types 5, 5, 5, 7, 5, 7
    async with adapter(sim) as (provider, faults):
        jobs = await provider.read_jobs(ids)
        assert all(isinstance(j, Job) for j in jobs)
        assert faults.calls("GET", JOB) == 6
        assert faults.calls("GET", TYPES) == 2
        await provider.read_jobs(ids)  # job types are cached for a while
        assert faults.calls("GET", TYPES) == 2


@pytest.mark.parametrize(
    ("change", "sent"),
    [
        (JobUpdate(changes={"reference": None}), {"reference": None}),
        (JobUpdate(changes={"order_number": "PO-7"}), {"orderNumber": "PO-7"}),
        (
            JobUpdate(changes={"planned_duration": 30}, custom_fields=()),
            {"plannedDuration": 30, "customFields": []},
        ),
        (
            JobUpdate(
                custom_fields=(CustomFieldChange("9", None), CustomFieldChange("12", "4471"))
            ),
            {"customFields": [{"id": 9, "value": None}, {"id": 12, "value": "4471"}]},
        ),
        (
            JobUpdate(changes={"primary_contact_id": None, "description": "Boiler leaking"}),
            {"contactPersonId": None, "description": "Boiler leaking"},
        ),
    ],
)
async def test_update_sends_exactly_what_was_given(change: JobUpdate, sent: object) -> None:
    sim, store, job_id = new_sim(
        "accepted", custom_fields=[{"id": 9, "value": "blue"}], contact_person_id="p-other"
    )
    async with adapter(sim) as (provider, faults):
        recorder = faults.inner = Recorder(faults.inner)
        [outcome] = await provider.perform(ActionRequest(JobAction.UPDATE, update=change), [job_id])
    assert recorder.bodies("PATCH") == [sent]
    assert isinstance(outcome, Job), outcome
    stored = store.jobs[int(job_id)]
    for key, value in sent.items():  # type: ignore[attr-defined]
        if key == "contactPersonId":
            assert stored[key] == store.contacts[77]  # null resets to the primary person
        elif key != "customFields":
            assert stored[key] == value
    if change.custom_fields == ():
        assert stored["customFields"] == [{"id": 9, "value": "blue"}]  # [] keeps them
    if change.custom_fields and len(change.custom_fields) == 2:
        assert stored["customFields"] == [{"id": 12, "value": "4471"}]  # 9 unset, 12 set


@pytest.mark.parametrize("state", ["started", "suspended", "completedOk", "completedWithIssues"])
@pytest.mark.parametrize(
    ("field", "value", "name"),
    [
        ("description", "New words", "description"),
        ("primary_contact_id", "p-2", "primaryContactId"),
        ("primary_contact_id", None, "primaryContactId"),
    ],
)
async def test_locked_fields_are_refused_without_a_patch(
    state: str, field: str, value: str | None, name: str
) -> None:
    sim, _, job_id = new_sim(state)
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(update(**{field: value}), [job_id])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.VALIDATION_FAILED
    assert [f.field for f in outcome.field_errors] == [name]
    assert outcome.provider_status == state
    assert faults.calls("PATCH") == 0


async def test_other_fields_update_on_a_completed_job() -> None:
    sim, _, job_id = new_sim("completedOk")
    async with adapter(sim) as (provider, _):
        [outcome] = await provider.perform(update(order_number="PO-9"), [job_id])
    assert details_of(outcome).order_number == "PO-9"


async def test_cancelled_job_takes_no_update() -> None:
    sim, _, job_id = new_sim("cancelled")
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(update(reference="R"), [job_id])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.INVALID_STATE
    assert faults.calls("PATCH") == 0


async def test_non_numeric_custom_field_id_is_refused_before_writing() -> None:
    sim, _, job_id = new_sim()
    change = JobUpdate(custom_fields=(CustomFieldChange("colour", "red"),))
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(ActionRequest(JobAction.UPDATE, update=change), [job_id])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.VALIDATION_FAILED
    assert outcome.field_errors[0].field == "customFields"
    assert faults.calls("PATCH") == 0


async def test_upstream_422_is_validation_failed_with_field_errors_and_detail() -> None:
    sim, store, job_id = new_sim()
    async with adapter(sim) as (provider, faults):
        # description cannot be null upstream; the gateway leaves that rule to BigChange.
        [outcome] = await provider.perform(update(description=None, planned_duration=-5), [job_id])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.VALIDATION_FAILED
    assert outcome.upstream_status == 422
    assert outcome.message == "One or more fields cannot be updated."
    assert outcome.detail == "Unprocessable Entity"
    assert {f.field: f.messages for f in outcome.field_errors} == {
        "description": ("Cannot be null.",),
        "plannedDuration": ("Must be a whole number of minutes, 0 or more.",),
    }
    assert faults.calls("PATCH") == 1
    assert store.jobs[int(job_id)]["description"] == "Annual boiler service"


async def test_upstream_field_names_become_input_names() -> None:
    sim, _, job_id = new_sim()
    body = (
        b'{"type":"t","title":"Unprocessable Entity","status":422,"detail":"Refused",'
        b'"instance":"/v1/jobs/1","errors":{"contactPersonId":["Unknown person"]}}'
    )
    async with adapter(sim) as (provider, faults):
        faults.add(Fault("PATCH", JOB, "status", status=422, body=body))
        [outcome] = await provider.perform(update(primary_contact_id="p-9"), [job_id])
    assert isinstance(outcome, JobError)
    assert [(f.field, f.messages) for f in outcome.field_errors] == [
        ("primaryContactId", ("Unknown person",))
    ]


@pytest.mark.parametrize(
    ("status", "text", "stored"),
    [
        (JobResultStatus.COMPLETED_OK, "Fixed", "completedOk"),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "Parts needed", "completedWithIssues"),
    ],
)
async def test_set_result(status: JobResultStatus, text: str, stored: str) -> None:
    sim, store, job_id = new_sim("started")
    async with adapter(sim) as (provider, recorder_faults):
        recorder = recorder_faults.inner = Recorder(recorder_faults.inner)
        [outcome] = await provider.perform(result(status, text), [job_id])
    assert isinstance(outcome, Job) and outcome.provider_status == stored
    assert details_of(outcome).result == text
    assert recorder.bodies("PUT") == [{"status": stored, "result": text}]
    assert store.jobs[int(job_id)]["status"] == stored


@pytest.mark.parametrize(
    ("status", "text"),
    [
        (JobResultStatus.COMPLETED_OK, "fixed"),
        (JobResultStatus.COMPLETED_OK, "FIXED"),
        (JobResultStatus.COMPLETED_OK, "Fixed "),
        (JobResultStatus.COMPLETED_OK, " Fixed"),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "No  access"),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "parts needed"),
        (JobResultStatus.COMPLETED_WITH_ISSUES, "Fixed"),
    ],
)
async def test_result_must_match_exactly_and_nothing_is_sent(
    status: JobResultStatus, text: str
) -> None:
    sim, store, job_id = new_sim("started")
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(result(status, text), [job_id])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.VALIDATION_FAILED
    [field] = outcome.field_errors
    assert field.field == "result"
    expected = (
        "'Fixed'" if status is JobResultStatus.COMPLETED_OK else "'No access', 'Parts needed'"
    )
    assert expected in field.messages[0]
    assert faults.calls("PUT") == 0
    assert store.jobs[int(job_id)]["status"] == "started"


@pytest.mark.parametrize("state", [s for s in STATUSES if s != "started"])
async def test_result_needs_a_started_job(state: str) -> None:
    sim, _, job_id = new_sim(state)
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(result(JobResultStatus.COMPLETED_OK, "Fixed"), [job_id])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.INVALID_STATE
    assert outcome.provider_status == state
    assert faults.calls("PUT") == 0


async def test_result_when_the_job_type_cannot_be_read_sends_nothing() -> None:
    sim, _, job_id = new_sim("started")
    async with adapter(sim) as (provider, faults):
        faults.add(Fault("GET", TYPES, "status", status=500, body=b"boom", times=-1))
        [job] = await provider.read_jobs([job_id])
        assert details_of(job).job_type is None  # the job is still shown, options unknown
        [outcome] = await provider.perform(result(JobResultStatus.COMPLETED_OK, "Fixed"), [job_id])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert "job type 5" in outcome.message
    assert faults.calls("PUT") == 0


async def test_unknown_or_invalid_job_on_write_is_not_found_without_a_call() -> None:
    sim = vendor(BIGCHANGE, seeded=False)
    async with adapter(sim) as (provider, faults):
        outcomes = await provider.perform(update(reference="R"), ["424242", "x1"])
    assert [o.code for o in outcomes if isinstance(o, JobError)] == [ErrorCode.NOT_FOUND] * 2
    assert faults.calls("PATCH") == 0 and faults.calls("GET", r".*/x1") == 0


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("GET", JOB, "status", status=500, body=b"Internal Server Error", times=-1),
         ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("GET", JOB, "status", status=503, times=-1), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("GET", JOB, "garbage", times=-1), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("GET", JOB, "garbage", body=b'{"id": 1009}', times=-1),
         ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("GET", JOB, "refuse", times=-1), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("GET", JOB, "delay", delay=5, times=-1), ErrorCode.UPSTREAM_TIMEOUT),
    ],
)  # fmt: skip
async def test_read_faults_map_to_codes(fault: Fault, code: ErrorCode) -> None:
    sim = vendor(BIGCHANGE)
    async with adapter(sim, timeout=0.2) as (provider, faults):
        # Lasting faults: a read may be retried, and the answer must still be the right error.
        faults.add(replace(fault))
        [error] = await provider.read_jobs(["1009"])
        assert isinstance(error, JobError) and error.code is code
        faults.clear()
        [job] = await provider.read_jobs(["1009"])
        assert isinstance(job, Job)


@pytest.mark.parametrize(
    ("method", "path", "request_"),
    [
        ("PATCH", JOB, update(reference="R-2")),
        ("PUT", RESULT, result(JobResultStatus.COMPLETED_WITH_ISSUES, "No access")),
    ],
)
async def test_lost_answer_after_write_is_settled_by_reading_back(
    method: str, path: str, request_: ActionRequest
) -> None:
    sim, _, job_id = new_sim("started")
    async with adapter(sim) as (provider, faults):
        faults.add(Fault(method, path, "drop-after"))
        [outcome] = await provider.perform(request_, [job_id])
    assert isinstance(outcome, Job), outcome
    assert faults.calls(method) == 1, "a write is never retried"


async def test_write_timeout_with_job_unchanged_is_outcome_unknown() -> None:
    sim, _, job_id = new_sim("started")
    async with adapter(sim, timeout=0.2) as (provider, faults):
        faults.add(Fault("PUT", RESULT, "delay", delay=5))
        [outcome] = await provider.perform(result(JobResultStatus.COMPLETED_OK, "Fixed"), [job_id])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert "status 'started'" in outcome.message


async def test_204_without_the_change_is_not_claimed() -> None:
    sim, _, job_id = new_sim()
    async with adapter(sim) as (provider, faults):
        # The answer is 204 but the upstream never applied it.
        faults.add(Fault("PATCH", JOB, "status", status=204))
        [outcome] = await provider.perform(update(reference="R-2", order_number="O"), [job_id])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert "does not show the update: reference, orderNumber" in outcome.message


async def test_204_then_failed_read_back_is_outcome_unknown() -> None:
    sim, store, job_id = new_sim("started")
    async with adapter(sim) as (provider, faults):
        faults.add(Fault("GET", JOB, "delay", delay=0, times=1))  # the pre-check read passes
        faults.add(Fault("GET", JOB, "status", status=503, times=-1))
        [outcome] = await provider.perform(result(JobResultStatus.COMPLETED_OK, "Fixed"), [job_id])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert "accepted the set result (HTTP 204)" in outcome.message
    assert "Reading the job back failed too" in outcome.message
    assert store.jobs[int(job_id)]["status"] == "completedOk"
