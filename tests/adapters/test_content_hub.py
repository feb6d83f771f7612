"""The Content Hub adapter against its simulator, through httpx."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from jobgate.domain import ActionRequest, ErrorCode, Job, JobAction, JobError, JobStatus
from jobgate.domain.content_hub import CONTENT_HUB
from jobgate.simulators.content_hub import (
    DEMO_TOKEN,
    ONLY_STATE,
    SCENARIOS,
    create_in,
    job_id_of,
)
from jobgate.simulators.faults import Fault, FaultyTransport
from tests.harness import adapter, vendor

JOB = r".*/api/fetchjobs/\d+"
CANCEL = ActionRequest(JobAction.CANCEL)
DOWN = ErrorCode.UPSTREAM_UNAVAILABLE
STATUS = {
    "Created": JobStatus.PENDING,
    "Pending": JobStatus.PENDING,
    "InProgress": JobStatus.IN_PROGRESS,
    "Completed:Success": JobStatus.COMPLETED,
    "Completed:Failure": JobStatus.FAILED,
    "Cancelled": JobStatus.CANCELLED,
}


class Spy(httpx.AsyncBaseTransport):
    """Sees every request that reaches the simulator; may act just before one is delivered."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, before_put: Callable[[], None] | None = None
    ) -> None:
        self.inner = inner
        self.before_put = before_put
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.method == "PUT" and self.before_put is not None:
            self.before_put()
        return await self.inner.handle_async_request(request)


def spy_on(faults: FaultyTransport, before_put: Callable[[], None] | None = None) -> Spy:
    spy = Spy(faults.inner, before_put)
    faults.inner = spy
    return spy


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_cancel_in_every_scenario(scenario: str) -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job_id = create_in(sim.store, scenario)
    state = scenario.partition(":")[0]
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(CANCEL, [job_id])
    if scenario == "Pending":
        assert isinstance(outcome, Job)
        assert outcome.provider_status == "Cancelled"
        assert outcome.status is JobStatus.CANCELLED
        assert outcome.allowed_actions == frozenset()
        assert sim.store.jobs[int(job_id)]["state"] == "Cancelled"
        assert faults.calls("PUT", JOB) == 1
    else:
        assert isinstance(outcome, JobError)
        assert outcome.code is ErrorCode.INVALID_STATE
        assert outcome.provider_status == state  # verbatim, never the "Completed:Failure" key
        assert f"'{state}'" in outcome.message
        assert faults.calls("PUT", JOB) == 0, "a refused action must not be sent"
        assert sim.store.jobs[int(job_id)]["state"] == state


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_read_maps_status_actions_and_details(scenario: str) -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job_id = create_in(sim.store, scenario)
    async with adapter(sim) as (provider, _):
        [job] = await provider.read_jobs([job_id])
    assert isinstance(job, Job)
    assert job.id == f"hub:{job_id}"
    assert job.status is STATUS[scenario]
    assert job.provider_status == scenario.partition(":")[0]
    expected = {JobAction.CANCEL} if scenario == "Pending" else set()
    assert job.allowed_actions == expected
    stored = sim.store.jobs[int(job_id)]
    details: Any = job.details
    assert details.condition == stored["condition"]
    assert details.file_count == stored["file_count"]
    assert details.scope == "data_import"
    assert details.owner == "https://tenant.contenthub.test/api/entities/6"
    assert details.state_description == tuple(stored["state_description"].items())
    assert details.started_on == stored["started_on"]


async def test_a_job_is_known_by_the_id_it_was_read_by_not_by_an_id_key() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending")
    assert "id" not in job  # as documented: the id is only in self.href and the URL
    async with adapter(sim) as (provider, _):
        [read] = await provider.read_jobs([str(job_id_of(job))])
    assert isinstance(read, Job) and read.native_id == str(job_id_of(job))


@pytest.mark.parametrize(
    ("stored", "kept"),
    [
        ({"en-US": "Waiting", "de-DE": "Wartend"}, (("en-US", "Waiting"), ("de-DE", "Wartend"))),
        ("Waiting", "Waiting"),
        (None, None),
    ],
)
async def test_state_description_is_kept_as_a_labels_object_or_a_string(
    stored: Any, kept: Any
) -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending", state_description=stored)
    async with adapter(sim) as (provider, _):
        [read] = await provider.read_jobs([str(job_id_of(job))])
        [cancelled] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(read, Job)
    assert read.details.state_description == kept  # type: ignore[attr-defined]
    assert isinstance(cancelled, Job), cancelled
    [(_, body)] = sim.store.received_puts
    if stored is None:
        assert "state_description" not in body
    else:
        assert body["state_description"] == stored  # echoed exactly as stored


async def test_any_condition_is_kept_verbatim() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = dict(sim.store.add("InProgress"), condition="Retrying")
    async with adapter(sim) as (provider, faults):
        faults.add(Fault("GET", JOB, "garbage", body=httpx.Response(200, json=job).content))
        [read] = await provider.read_jobs([str(job_id_of(job))])
    assert isinstance(read, Job) and read.status is JobStatus.IN_PROGRESS
    assert read.details.condition == "Retrying"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("Waiting", {"state_description": "Waiting"}),
        (None, {}),  # a null stored description is left out
    ],
)
async def test_put_echoes_the_fields_just_read(
    description: str | None, expected: dict[str, str]
) -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add(
        "Pending", scope="asset_import", file_count=3, state_description=description
    )
    async with adapter(sim) as (provider, _):
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, Job)
    [(put_id, body)] = sim.store.received_puts
    assert put_id == job_id_of(job)
    assert body == {
        "condition": "Pending",
        "file_count": 3,
        "scope": "asset_import",
        "state": "Cancelled",
        **expected,
    }


async def test_file_count_is_echoed_as_read_even_as_a_string() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending", file_count="1")  # as the docs' example sends it
    async with adapter(sim) as (provider, _):
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, Job) and outcome.provider_status == "Cancelled"
    assert outcome.details.file_count == "1"  # type: ignore[attr-defined]
    assert sim.store.received_puts[0][1]["file_count"] == "1"


async def test_204_without_the_change_is_not_success() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending")
    sim.store.ignore_cancels.add(job_id_of(job))
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert "accepted the cancel (HTTP 204)" in outcome.message
    assert "does not show the cancel: state 'Pending'" in outcome.message
    assert outcome.provider_status == "Pending"
    assert sim.store.jobs[job_id_of(job)]["state"] == "Pending"
    assert faults.calls("PUT", JOB) == 1


async def test_204_then_another_state_is_invalid_state() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending")
    moved = httpx.Response(200, json=dict(job, state="InProgress")).content
    async with adapter(sim) as (provider, faults):
        # The pre-check read passes, the PUT is answered 204, the read back shows InProgress.
        faults.add(Fault("GET", JOB, "delay", delay=0, times=1))
        faults.add(Fault("PUT", JOB, "status", status=204))
        faults.add(Fault("GET", JOB, "garbage", body=moved))
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.INVALID_STATE
    assert outcome.provider_status == "InProgress"
    assert "(HTTP 204)" in outcome.message
    assert "Read back: Cannot cancel a job in state 'InProgress'" in outcome.message


async def test_403_after_the_job_moved_on_is_invalid_state_with_upstream_words() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending")
    async with adapter(sim) as (provider, faults):
        spy_on(faults, before_put=lambda: sim.store.set_state(job_id_of(job), "InProgress"))
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.INVALID_STATE
    assert outcome.message.startswith(ONLY_STATE["Message"])
    assert "'InProgress'" in outcome.message
    assert outcome.provider_status == "InProgress"
    assert outcome.upstream_status == 403


async def test_403_while_still_pending_is_forbidden_with_upstream_words() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending", state_description="Waiting")

    def change_description() -> None:
        # Between our read and our write the stored fields changed: the echo no longer matches.
        sim.store.jobs[job_id_of(job)]["state_description"] = "Waiting for a worker"

    async with adapter(sim) as (provider, faults):
        spy_on(faults, before_put=change_description)
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.FORBIDDEN
    assert outcome.message == ONLY_STATE["Message"]
    assert outcome.upstream_status == 403
    assert sim.store.jobs[job_id_of(job)]["state"] == "Pending"


@pytest.mark.parametrize("native_id", ["9999", "abc", "12a", "6160.5"])
async def test_unknown_or_non_numeric_id(native_id: str) -> None:
    sim = vendor(CONTENT_HUB)
    async with adapter(sim) as (provider, faults):
        [job] = await provider.read_jobs([native_id])
        [outcome] = await provider.perform(CANCEL, [native_id])
    assert job is None
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.NOT_FOUND
    assert faults.calls("PUT") == 0
    # Only a numeric id can exist upstream; anything else is answered without a call.
    assert faults.calls("GET") == (2 if native_id.isdigit() else 0)


@pytest.mark.parametrize(
    ("auth_header", "sent"),
    [
        ("bearer", ("authorization", "Bearer demo-content-hub-token")),
        ("x-auth-token", ("x-auth-token", "demo-content-hub-token")),
    ],
)
async def test_both_auth_header_styles(auth_header: str, sent: tuple[str, str]) -> None:
    sim = vendor(CONTENT_HUB)
    async with adapter(sim, token=DEMO_TOKEN, auth_header=auth_header) as (provider, faults):
        spy = spy_on(faults)
        [job] = await provider.read_jobs(["6168"])
    assert isinstance(job, Job)
    [request] = spy.requests
    assert request.headers[sent[0]] == sent[1]
    other = "x-auth-token" if sent[0] == "authorization" else "authorization"
    assert other not in request.headers


@pytest.mark.parametrize("auth_header", ["bearer", "x-auth-token"])
async def test_wrong_token_is_unauthenticated(auth_header: str) -> None:
    sim = vendor(CONTENT_HUB)
    async with adapter(sim, token="not-a-valid-token", auth_header=auth_header) as (provider, _):
        [error] = await provider.read_jobs(["6168"])
        [refused] = await provider.perform(CANCEL, ["6168"])
    assert isinstance(error, JobError) and error.code is ErrorCode.UNAUTHENTICATED
    assert error.message == "Authorization has been denied for this request."
    assert isinstance(refused, JobError) and refused.code is ErrorCode.UNAUTHENTICATED
    assert sim.store.jobs[6168]["state"] == "Pending"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("GET", ".*", "status", status=500, body=b"Internal Server Error"), DOWN),
        (Fault("GET", ".*", "status", status=429, body=b'{"Message":"Slow down."}'),
         ErrorCode.RATE_LIMITED),
        (Fault("GET", ".*", "garbage"), DOWN),
        (Fault("GET", ".*", "garbage", body=b"[1, 2]"), DOWN),
        (Fault("GET", ".*", "garbage", body=b'{"id": 6168}'), DOWN),
        (Fault("GET", ".*", "garbage", body=b'{"state": null, "condition": "Pending"}'), DOWN),
        (Fault("GET", ".*", "refuse"), DOWN),
        (Fault("GET", ".*", "delay", delay=5), ErrorCode.UPSTREAM_TIMEOUT),
    ],
)  # fmt: skip
async def test_read_faults_map_to_codes(fault: Fault, code: ErrorCode) -> None:
    sim = vendor(CONTENT_HUB)
    async with adapter(sim, timeout=0.2, retries=0) as (provider, faults):
        faults.add(fault)
        [error] = await provider.read_jobs(["6168"])
        assert isinstance(error, JobError)
        assert error.code is code
        # The next read is answered normally.
        [job] = await provider.read_jobs(["6168"])
        assert isinstance(job, Job)


async def test_a_job_without_a_scope_is_cancelled_with_a_put_that_carries_none() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending", scope=None)
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, Job) and outcome.provider_status == "Cancelled"
    [(_, body)] = sim.store.received_puts
    assert "scope" not in body
    assert faults.calls("PUT") == 1


async def test_lost_answer_after_put_is_settled_by_reading_back() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending")
    async with adapter(sim) as (provider, faults):
        faults.add(Fault("PUT", JOB, "drop-after"))
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, Job)
    assert outcome.provider_status == "Cancelled"
    assert faults.calls("PUT", JOB) == 1, "a write is never retried"


async def test_put_timeout_with_job_unchanged_is_outcome_unknown() -> None:
    sim = vendor(CONTENT_HUB, seeded=False)
    job = sim.store.add("Pending")
    async with adapter(sim, timeout=0.2) as (provider, faults):
        faults.add(Fault("PUT", JOB, "delay", delay=5))
        [outcome] = await provider.perform(CANCEL, [str(job_id_of(job))])
    assert isinstance(outcome, JobError)
    assert outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert "state 'Pending'" in outcome.message
    assert faults.calls("PUT", JOB) <= 1


@pytest.mark.parametrize("action", [JobAction.CLOSE, JobAction.ABORT, JobAction.DELETE])
async def test_other_actions_are_unsupported_without_a_call(action: JobAction) -> None:
    sim = vendor(CONTENT_HUB)
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(ActionRequest(action), ["6168"])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.UNSUPPORTED_ACTION
    assert faults.calls("GET") == faults.calls("PUT") == 0
