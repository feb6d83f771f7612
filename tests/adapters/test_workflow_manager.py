"""The Workflow Manager adapter against its simulator, through httpx."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from jobgate.domain import (
    ActionRequest,
    Deleted,
    ErrorCode,
    Job,
    JobAction,
    JobError,
    JobStatus,
)
from jobgate.domain.workflow_manager import WORKFLOW_MANAGER, WorkflowManagerDetails
from jobgate.providers.base import JobProvider
from jobgate.simulators.faults import Fault, FaultyTransport
from jobgate.simulators.suite import SimulatedVendor
from jobgate.simulators.workflow_manager import ALL_PRIVILEGES, DEMO_TOKEN, SCENARIOS, create_in
from tests.harness import adapter, vendor

MANAGE = r".*/jobs/manage"
C, R, U, D = JobAction.CLOSE, JobAction.REOPEN, JobAction.UPGRADE, JobAction.DELETE
TYPES = {C: "Close", R: "Reopen", U: "Upgrade", D: "Delete"}
# Written out rather than taken from RULES, so the table is checked against the simulator.
ALLOWED = {
    "open": {C, D},  # already on the latest diagram version: nothing to upgrade
    "open-upgradable": {C, U, D},
    "open-outdated-step": {C, D},
    "running": set(),
    "closed": {R, D},
}


class Recorder(httpx.AsyncBaseTransport):
    """Keeps the body of every manage request that reached the simulator."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.manage_bodies: list[Any] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/jobs/manage"):
            self.manage_bodies.append(orjson.loads(request.content or b"null"))
        return await self.inner.handle_async_request(request)


@contextlib.asynccontextmanager
async def wm(
    sim: SimulatedVendor, **overrides: Any
) -> AsyncIterator[tuple[JobProvider, FaultyTransport, Recorder]]:
    async with adapter(sim, **overrides) as (provider, faults):
        recorder = Recorder(faults.inner)
        faults.inner = recorder
        yield provider, faults, recorder


def fresh(seeded: bool = False) -> SimulatedVendor:
    return vendor(WORKFLOW_MANAGER, seeded=seeded)


def manage(action: JobAction) -> ActionRequest:
    return ActionRequest(action, batch=True)


def applied(sim: SimulatedVendor, action: JobAction, job_id: str) -> bool:
    job = sim.store.jobs.get(job_id)
    if action is D:
        return job is None
    if action is U:
        return bool(
            job["diagramVersion"] == sim.store.latest_diagram(job["diagramId"])["diagramVersion"]
        )
    return bool(job["closed"] is (action is C))


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("action", [C, R, U, D])
async def test_every_scenario_and_action(scenario: str, action: JobAction) -> None:
    sim = fresh()
    job_id = create_in(sim.store, scenario)
    async with wm(sim) as (provider, _, sent):
        [outcome] = await provider.perform(manage(action), [job_id])
    if action in ALLOWED[scenario]:
        assert isinstance(outcome, Deleted if action is D else Job), outcome
        assert sent.manage_bodies == [{"type": TYPES[action], "jobIds": [job_id]}]
        assert applied(sim, action, job_id)
    else:
        assert isinstance(outcome, JobError) and outcome.code is ErrorCode.INVALID_STATE, outcome
        assert outcome.provider_status == sim.store.jobs[job_id]["jobStatus"]
        assert sent.manage_bodies == [], "a refused job is never sent"


@pytest.mark.parametrize("action", [C, R, U, D])
async def test_one_manage_call_with_only_the_eligible_ids(action: JobAction) -> None:
    sim = fresh()
    ids = [create_in(sim.store, s) for s in SCENARIOS]
    asked = [*ids, "jMissing1", ids[0]]  # a missing id and a duplicate
    async with wm(sim) as (provider, faults, sent):
        outcomes = await provider.perform(manage(action), asked)
    eligible = [i for s, i in zip(SCENARIOS, ids, strict=True) if action in ALLOWED[s]]
    assert sent.manage_bodies == ([{"type": TYPES[action], "jobIds": eligible}] if eligible else [])
    assert faults.calls("POST", MANAGE) == len(sent.manage_bodies)
    for job_id, outcome in zip(asked, outcomes, strict=True):
        if job_id == "jMissing1":
            assert isinstance(outcome, JobError) and outcome.code is ErrorCode.NOT_FOUND
        elif job_id in eligible:
            assert isinstance(outcome, Job | Deleted), outcome
        else:
            assert isinstance(outcome, JobError) and outcome.code is ErrorCode.INVALID_STATE
    assert outcomes[-1] == outcomes[0]


async def test_close_reopen_and_upgrade_report_the_job_read_back() -> None:
    sim = fresh(seeded=True)
    async with wm(sim) as (provider, _, _):
        [closed] = await provider.perform(ActionRequest(C), ["j1Xo9"])  # as closeJob sends it
        [reopened] = await provider.perform(manage(R), ["j4Cl2"])
        [upgraded] = await provider.perform(manage(U), ["j2Pq4"])
    assert isinstance(closed, Job) and closed.status is JobStatus.CLOSED
    assert closed.provider_status == "Closed" and closed.allowed_actions == {R, D}
    assert isinstance(reopened, Job) and reopened.status is JobStatus.OPEN
    assert isinstance(upgraded, Job) and isinstance(upgraded.details, WorkflowManagerDetails)
    assert upgraded.details.diagram_version == upgraded.details.latest_diagram_version == 3


async def test_job_starting_between_check_and_manage_is_not_a_success() -> None:
    """Partial failure: the upstream changes the others and answers success: false."""
    sim = fresh(seeded=True)
    sim.store.before_manage = lambda: sim.store.set_running("j6Nb1", True)
    async with wm(sim) as (provider, faults, sent):
        outcomes = await provider.perform(manage(C), ["j1Xo9", "j6Nb1", "j2Pq4"])
    assert sent.manage_bodies == [{"type": "Close", "jobIds": ["j1Xo9", "j6Nb1", "j2Pq4"]}]
    first, started, third = outcomes
    assert isinstance(first, Job) and first.status is JobStatus.CLOSED
    assert isinstance(third, Job) and third.status is JobStatus.CLOSED
    assert isinstance(started, JobError) and started.code is ErrorCode.INVALID_STATE
    assert "running" in started.message and started.provider_status == "Working"
    assert sim.store.jobs["j6Nb1"]["closed"] is False
    assert faults.calls("POST", MANAGE) == 1


@pytest.mark.parametrize(
    ("answer", "words", "code"),
    [
        (b'{"success":false}', "did not close", ErrorCode.INVALID_STATE),
        (b'{"success":true}', "succeeded", ErrorCode.OUTCOME_UNKNOWN),
    ],
)
async def test_answer_not_borne_out_by_read_back_is_not_a_success(
    answer: bytes, words: str, code: ErrorCode
) -> None:
    """success:false says the upstream left the job: the job read back unchanged is that
    refusal. success:true with the job unchanged is a claim the gateway could not see."""
    sim = fresh(seeded=True)
    async with wm(sim) as (provider, faults, _):
        faults.add(Fault("POST", MANAGE, "status", status=200, body=answer))
        [outcome] = await provider.perform(manage(C), ["j1Xo9"])
    assert isinstance(outcome, JobError) and outcome.code is code
    assert words in outcome.message and "does not show the close" in outcome.message
    assert sim.store.jobs["j1Xo9"]["closed"] is False


async def test_a_status_the_source_does_not_name_as_running_lets_the_upstream_decide() -> None:
    """The organisation calls its running status "Editing": with the default running_statuses
    the gateway cannot know, sends the close, and reports the upstream's refusal truthfully."""
    sim = fresh(seeded=True)
    sim.store.running_status = "Editing"
    sim.store.set_running("j6Nb1", True)
    async with wm(sim) as (provider, faults, _):
        [job] = await provider.read_jobs(["j6Nb1"])
        [outcome] = await provider.perform(manage(C), ["j6Nb1"])
    assert isinstance(job, Job) and job.provider_status == "Editing" and C in job.allowed_actions
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.INVALID_STATE
    assert "did not close every job" in outcome.message and "'Editing'" in outcome.message
    assert faults.calls("POST", MANAGE) == 1
    async with wm(sim, running_statuses=("Working", "Editing")) as (provider, faults, _):
        [job] = await provider.read_jobs(["j6Nb1"])
        [outcome] = await provider.perform(manage(C), ["j6Nb1"])
    assert isinstance(job, Job) and job.status is JobStatus.IN_PROGRESS
    assert job.allowed_actions == frozenset()
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.INVALID_STATE
    assert faults.calls("POST", MANAGE) == 0, "known as running: refused before sending"


async def test_delete_is_confirmed_by_a_404_on_read_back() -> None:
    sim = fresh(seeded=True)
    async with wm(sim) as (provider, faults, _):
        # After the delete, the read-back answers a plain 404 rather than ArcGIS's 400.
        sim.store.before_manage = lambda: faults.add(
            Fault("GET", r".*/jobs/j4Cl2", "status", status=404, times=-1)
        )
        outcomes = await provider.perform(manage(D), ["j4Cl2", "j1Xo9"])
    assert outcomes == [Deleted("gis", "j4Cl2"), Deleted("gis", "j1Xo9")]


async def test_missing_privilege_is_forbidden_with_the_upstream_words() -> None:
    sim = fresh(seeded=True)
    sim.store.tokens["no-close-token"] = ALL_PRIVILEGES - {"jobClose"}
    async with wm(sim, token="no-close-token") as (provider, _, sent):
        closed, reopened = [
            (await provider.perform(manage(a), [i]))[0] for a, i in [(C, "j1Xo9"), (R, "j4Cl2")]
        ]
    assert isinstance(closed, JobError) and closed.code is ErrorCode.FORBIDDEN
    assert closed.message == "User does not have the privilege jobClose to perform this operation."
    assert closed.upstream_status == 400
    assert sim.store.jobs["j1Xo9"]["closed"] is False
    assert isinstance(reopened, Job), "other privileges are held"
    assert len(sent.manage_bodies) == 2


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (403, b'{"error":{"code":403,"message":"Access denied.","details":[]}}', "FORBIDDEN"),
        (
            400,
            b'{"error":{"message":"Invalid value for jobIds.","type":"WorkflowJsonException"}}',
            "VALIDATION_FAILED",
        ),
        (200, b'{"error":{"code":498,"message":"Invalid token.","details":[]}}', "UNAUTHENTICATED"),
    ],
)
async def test_manage_error_answers_apply_to_every_sent_id(
    status: int, body: bytes, code: str
) -> None:
    sim = fresh(seeded=True)
    # A fixed token: a refused one cannot be renewed, so the refusal is the answer.
    async with wm(sim, token=DEMO_TOKEN) as (provider, faults, _):
        faults.add(Fault("POST", MANAGE, "status", status=status, body=body))
        outcomes = await provider.perform(manage(C), ["j1Xo9", "j6Nb1", "j3Rw7"])
    first, second, running = outcomes
    assert isinstance(first, JobError) and first.code.value == code
    assert first == second
    assert isinstance(running, JobError) and running.code is ErrorCode.INVALID_STATE


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, b'{"error":{"code":498,"message":"Invalid token.","details":[]}}'),
        (401, b'{"error":{"code":498,"message":"Invalid token.","details":[]}}'),
        (400, b'{"error":{"code":499,"message":"Token Required.","details":[]}}'),
    ],
)
async def test_a_refused_token_on_a_manage_is_renewed_and_the_manage_sent_again(
    status: int, body: bytes
) -> None:
    """ArcGIS refuses an expired token with 498/499, in a 401 or inside a 200 or 400: nothing
    was done, so with a token renewed the one manage request goes again, once."""
    sim = fresh(seeded=True)
    async with wm(sim) as (provider, faults, sent):
        faults.add(Fault("POST", MANAGE, "status", status=status, body=body))
        [closed] = await provider.perform(manage(C), ["j1Xo9"])
    assert isinstance(closed, Job) and closed.status is JobStatus.CLOSED
    assert faults.calls("POST", MANAGE) == 1  # the refused one was answered by the fault
    assert len(sent.manage_bodies) == 1
    assert faults.calls("POST", r".*/oauth2/token") == 2


async def test_invalid_token_is_unauthenticated() -> None:
    sim = fresh(seeded=True)
    async with wm(sim, token="not-a-valid-token") as (provider, faults, _):
        [read] = await provider.read_jobs(["j1Xo9"])
        [managed] = await provider.perform(manage(C), ["j1Xo9"])
    for error in (read, managed):
        assert isinstance(error, JobError) and error.code is ErrorCode.UNAUTHENTICATED
        assert error.message == "Invalid token." and error.upstream_code == "498"
    assert faults.calls("POST", MANAGE) == 0


async def test_lost_answer_is_settled_by_reading_back_without_retrying() -> None:
    sim = fresh(seeded=True)
    sim.store.before_manage = lambda: sim.store.set_running("j6Nb1", True)
    async with wm(sim) as (provider, faults, _):
        faults.add(Fault("POST", MANAGE, "drop-after"))
        closed, started = await provider.perform(manage(C), ["j1Xo9", "j6Nb1"])
    assert faults.calls("POST", MANAGE) == 1, "a write is never retried"
    assert isinstance(closed, Job) and closed.status is JobStatus.CLOSED
    # Read back it is running: the close cannot have happened, nor happen now.
    assert isinstance(started, JobError) and started.code is ErrorCode.INVALID_STATE
    assert "may or may not" in started.message and "'Working'" in started.message


async def test_lost_answer_and_failed_read_back_is_outcome_unknown() -> None:
    sim = fresh(seeded=True)
    async with wm(sim) as (provider, faults, _):
        sim.store.before_manage = lambda: faults.add(
            Fault("GET", r".*/jobs/.*", "status", status=503, times=-1)
        )
        faults.add(Fault("POST", MANAGE, "drop-after"))
        [outcome] = await provider.perform(manage(D), ["j1Xo9"])
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.OUTCOME_UNKNOWN
    assert "Reading the job back failed" in outcome.message
    assert faults.calls("POST", MANAGE) == 1


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("POST", MANAGE, "status", status=500, body=b"boom"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("POST", MANAGE, "status", status=504), ErrorCode.UPSTREAM_TIMEOUT),
        (Fault("POST", MANAGE, "garbage"), ErrorCode.OUTCOME_UNKNOWN),
        (Fault("POST", MANAGE, "delay", delay=5), ErrorCode.OUTCOME_UNKNOWN),
        (Fault("POST", MANAGE, "refuse"), ErrorCode.UPSTREAM_UNAVAILABLE),
    ],
    ids=["500", "504", "garbage", "timeout", "refused"],
)
async def test_manage_faults_map_to_codes_after_read_back(fault: Fault, code: ErrorCode) -> None:
    sim = fresh(seeded=True)
    async with wm(sim, timeout=0.3) as (provider, faults, _):
        faults.add(fault)
        [outcome] = await provider.perform(manage(C), ["j1Xo9"])
    assert isinstance(outcome, JobError) and outcome.code is code, outcome
    assert sim.store.jobs["j1Xo9"]["closed"] is False


class AppliedThen500(httpx.AsyncBaseTransport):
    """An upstream that applies a manage request and then fails to answer it properly."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/jobs/manage"):
            await response.aread()
            return httpx.Response(500, content=b"Internal Server Error", request=request)
        return response


async def test_changes_seen_after_a_500_are_reported() -> None:
    sim = fresh(seeded=True)
    async with wm(sim) as (provider, faults, _):
        faults.inner = AppliedThen500(faults.inner)
        upgraded, current = await provider.perform(manage(U), ["j2Pq4", "j1Xo9"])
        faults.add(Fault("POST", MANAGE, "status", status=500, body=b"Internal Server Error"))
        [unchanged] = await provider.perform(manage(R), ["j4Cl2"])
    assert isinstance(upgraded, Job) and isinstance(upgraded.details, WorkflowManagerDetails)
    assert upgraded.details.diagram_version == 3
    # Already on the latest version: an upgrade would be a no-op, so it is refused up front.
    assert isinstance(current, JobError) and current.code is ErrorCode.INVALID_STATE
    assert "already on the latest diagram version" in current.message
    assert isinstance(unchanged, JobError) and unchanged.code is ErrorCode.UPSTREAM_UNAVAILABLE
    assert unchanged.message.startswith("Internal Server Error")
    assert "does not show the reopen" in unchanged.message


# -- reading ---------------------------------------------------------------------------------


async def test_read_maps_status_details_and_missing_jobs() -> None:
    sim = fresh(seeded=True)
    ids = ["j1Xo9", "j2Pq4", "j3Rw7", "j4Cl2", "j5Lg8", "j6Nb1", "jMissing1"]
    async with wm(sim) as (provider, faults, _):
        faults.add(Fault("GET", r".*/jobs/jGone404", "status", status=404))
        jobs = await provider.read_jobs([*ids, "jGone404"])
    # One read per job, one per distinct diagram of the open jobs.
    assert faults.calls("GET", r".*/jobs/[^/]+") == len(ids)
    assert faults.calls("GET", r".*/diagrams/[^/]+") == 1
    *found, missing, gone = jobs
    assert missing is None and gone is None
    assert [(j.status, j.provider_status) for j in found if isinstance(j, Job)] == [
        (JobStatus.OPEN, "Ready"),
        (JobStatus.OPEN, "Ready"),
        (JobStatus.IN_PROGRESS, "Working"),
        (JobStatus.CLOSED, "Closed"),
        (JobStatus.OPEN, "Ready"),
        (JobStatus.OPEN, "Ready"),
    ]
    first, upgradable, _, closed, outdated, _ = found
    assert isinstance(first, Job) and first.details == WorkflowManagerDetails(
        job_name="Parcel edit 12",
        description="",
        job_status="Ready",
        closed=False,
        running=False,
        priority="High",
        percent_complete=0,
        diagram_id="d1",
        diagram_version=3,
        diagram_name="Parcel editing",
        latest_diagram_version=3,
        job_template_id="t-d1",
        job_template_name="Parcel editing template",
        created_date="2024-03-01T10:00:00Z",
        due_date=None,
        end_date=None,
        owned_by="ana",
        archived=False,
        current_steps=first.details.current_steps,  # type: ignore[attr-defined]
        steps_in_latest_diagram=True,
    )
    assert first.warnings == ()
    [step] = first.details.current_steps  # type: ignore[attr-defined]
    assert (step.step_id, step.step_name) == ("s1", "Edit")
    assert (step.assigned_type, step.assigned_to) == ("User", "ana")
    assert (step.can_skip, step.manual_hold, step.dependencies) == (False, False, False)
    assert isinstance(upgradable, Job) and upgradable.allowed_actions == {C, U, D}
    assert first.allowed_actions == {C, D}, "on the latest version: nothing to upgrade"
    assert isinstance(outdated, Job) and outdated.allowed_actions == {C, D}
    assert outdated.details.steps_in_latest_diagram is False  # type: ignore[attr-defined]
    assert isinstance(closed, Job) and closed.details.latest_diagram_version is None  # type: ignore[attr-defined]


async def test_a_newer_diagram_version_changes_what_an_open_job_accepts() -> None:
    sim = fresh(seeded=True)
    async with wm(sim) as (provider, _, _):
        [current] = await provider.read_jobs(["j1Xo9"])  # on d1 v3, the latest
        sim.store.publish_diagram_version("d1")  # v4 keeps its step s1: it may upgrade
        [newer] = await provider.read_jobs(["j1Xo9"])
        sim.store.publish_diagram_version("d1", {"s2": "QA review", "s3": "Publish"})
        [after] = await provider.read_jobs(["j1Xo9"])  # v5 dropped s1: it may not
        [refused] = await provider.perform(manage(U), ["j1Xo9"])
    assert isinstance(current, Job) and U not in current.allowed_actions
    assert isinstance(newer, Job) and U in newer.allowed_actions
    assert isinstance(after, Job) and U not in after.allowed_actions
    assert isinstance(refused, JobError) and refused.code is ErrorCode.INVALID_STATE
    assert "missing from the latest diagram" in refused.message


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("GET", r".*/jobs/.*", "status", status=500, body=b"oops"), "UPSTREAM_UNAVAILABLE"),
        (Fault("GET", r".*/jobs/.*", "garbage"), "UPSTREAM_UNAVAILABLE"),
        (Fault("GET", r".*/jobs/.*", "garbage", body=b'{"jobId":"j1Xo9"}'), "UPSTREAM_UNAVAILABLE"),
        (Fault("GET", r".*/jobs/.*", "delay", delay=5), "UPSTREAM_TIMEOUT"),
        (Fault("GET", r".*/jobs/.*", "status", status=429, times=-1), "RATE_LIMITED"),
    ],
)
async def test_read_faults_map_to_codes_and_block_the_manage(fault: Fault, code: str) -> None:
    sim = fresh(seeded=True)
    async with wm(sim, timeout=0.3) as (provider, faults, sent):
        faults.add(fault)
        [error] = await provider.perform(manage(C), ["j1Xo9"])
        faults.clear()
        [job] = await provider.read_jobs(["j1Xo9"])
    assert isinstance(error, JobError) and error.code.value == code, error
    assert sent.manage_bodies == [], "nothing is sent without a fresh pre-check"
    assert isinstance(job, Job), "the next read is answered normally"


@pytest.mark.parametrize(
    "fault",
    [
        Fault("GET", r".*/diagrams/.*", "status", status=502, times=-1),
        Fault("GET", r".*/diagrams/.*", "status", status=404, times=-1),
        Fault("GET", r".*/diagrams/.*", "garbage", body=b"{}", times=-1),
    ],
    ids=["502", "404", "malformed"],
)
async def test_a_diagram_that_cannot_be_read_never_hides_its_job(fault: Fault) -> None:
    sim = fresh(seeded=True)
    async with wm(sim, retries=0) as (provider, faults, sent):
        faults.add(fault)
        [job] = await provider.read_jobs(["j1Xo9"])
        [upgrade] = await provider.perform(manage(U), ["j1Xo9"])
        assert sent.manage_bodies == [], "whether it may be upgraded is unknown: nothing sent"
        [closed] = await provider.perform(manage(C), ["j1Xo9"])
    assert isinstance(job, Job), job
    assert job.status is JobStatus.OPEN and job.allowed_actions == {C, D}
    [warning] = job.warnings
    assert "Diagram 'd1' could not be read" in warning.message and "UPGRADE" in warning.message
    assert job.details.latest_diagram_version is None  # type: ignore[attr-defined]
    assert isinstance(upgrade, JobError) and upgrade.code is warning.code
    assert upgrade.message.startswith("Cannot check the upgrade")
    assert isinstance(closed, Job) and closed.status is JobStatus.CLOSED, "close does not need it"
