"""One suite every provider and its simulator must pass (the Strawberry tests/http/ pattern)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jobgate.domain import (
    ActionRequest,
    Deleted,
    ErrorCode,
    Job,
    JobAction,
    JobError,
)
from jobgate.gateway import Gateway
from jobgate.simulators.faults import Fault
from jobgate.simulators.suite import SimulatedVendor
from tests.contract.cases import CASES, ProviderCase
from tests.harness import adapter, vendor

pytestmark = pytest.mark.parametrize("case", CASES, ids=str)


def fresh(case: ProviderCase) -> SimulatedVendor:
    return vendor(case.provider, seeded=True)


def _request(case: ProviderCase, action: JobAction, store: object, native_id: str) -> ActionRequest:
    request = case.request_for(action, store, native_id)
    # Batch-only providers (Workflow Manager) take their actions the way manageJobs sends them.
    return replace(request, batch=action in case.rules.batch)


async def test_reads_every_scenario(case: ProviderCase) -> None:
    sim = fresh(case)
    rules = case.rules
    ids = [case.simulator.create_in(sim.store, s) for s in case.simulator.SCENARIOS]
    async with adapter(sim) as (provider, faults):
        jobs = await provider.read_jobs(ids)
    for scenario, native_id, job in zip(case.simulator.SCENARIOS, ids, jobs, strict=True):
        assert isinstance(job, Job), (scenario, job)
        assert job.native_id == native_id
        assert job.provider is case.provider
        assert job.provider_status, scenario
        assert job.allowed_actions <= rules.supported
    assert faults.calls("GET") <= len(ids) + len(set(ids))  # no N+1 beyond one read per id


async def test_read_many_with_missing_ids(case: ProviderCase) -> None:
    sim = fresh(case)
    first = case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0])
    last = case.simulator.create_in(sim.store, case.simulator.SCENARIOS[-1])
    async with adapter(sim) as (provider, _):
        found = await provider.read_jobs([first, case.missing_id, last])
    assert isinstance(found[0], Job) and found[0].native_id == first
    assert found[1] is None
    assert isinstance(found[2], Job) and found[2].native_id == last


async def test_allowed_actions_agree_with_what_the_upstream_accepts(case: ProviderCase) -> None:
    """For every state the simulator can make: allowed exactly when performing it succeeds."""
    rules = case.rules
    for scenario in case.simulator.SCENARIOS:
        for action in sorted(rules.supported, key=lambda a: a.value):
            sim = fresh(case)
            native_id = case.simulator.create_in(sim.store, scenario)
            async with adapter(sim) as (provider, faults):
                [job] = await provider.read_jobs([native_id])
                assert isinstance(job, Job)
                request = _request(case, action, sim.store, native_id)
                [outcome] = await provider.perform(request, [native_id])
            where = f"{scenario} / {action.value}"
            if action in job.allowed_actions:
                assert isinstance(outcome, Job | Deleted), f"{where}: {outcome}"
                assert case.writes(faults) >= 1, where
            else:
                assert isinstance(outcome, JobError), f"{where}: unexpectedly succeeded"
                assert outcome.code is ErrorCode.INVALID_STATE, f"{where}: {outcome}"
                assert case.writes(faults) == 0, f"{where}: a refused action was sent"


async def test_unsupported_actions_make_no_call(case: ProviderCase) -> None:
    rules = case.rules
    sim = fresh(case)
    native_id = case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0])
    async with adapter(sim) as (provider, faults):
        gateway = Gateway({sim.source: provider})
        for action in JobAction:
            for batch in (False, True):
                if rules.offers(action, batch=batch):
                    continue
                [outcome] = await gateway.perform(
                    ActionRequest(action, batch=batch), [f"{sim.source}:{native_id}"]
                )
                assert isinstance(outcome, JobError)
                assert outcome.code is ErrorCode.UNSUPPORTED_ACTION, (action, batch)
        assert sum(faults.delivered.values()) == 0


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("GET", "", "status", status=500, body=b"oops"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (
            Fault("GET", "", "status", status=503, headers={"Retry-After": "1"}, times=-1),
            ErrorCode.UPSTREAM_UNAVAILABLE,
        ),
        (Fault("GET", "", "delay", delay=5, times=-1), ErrorCode.UPSTREAM_TIMEOUT),
        (Fault("GET", "", "refuse", times=-1), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("GET", "", "garbage", times=-1), ErrorCode.UPSTREAM_UNAVAILABLE),
    ],
    ids=["500", "503", "timeout", "refused", "malformed"],
)
async def test_read_faults_map_to_codes(case: ProviderCase, fault: Fault, code: ErrorCode) -> None:
    sim = fresh(case)
    native_id = case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0])
    fault = replace(fault, path=case.read_path)  # a fresh copy: faults count their uses
    async with adapter(sim, timeout=0.3) as (provider, faults):
        faults.add(fault)
        [error] = await provider.read_jobs([native_id])
        assert isinstance(error, JobError), error
        assert error.code is code
        faults.clear()
        [job] = await provider.read_jobs([native_id])
        assert isinstance(job, Job), "the next read is answered normally"


async def test_write_is_never_repeated_when_its_answer_is_lost(case: ProviderCase) -> None:
    rules = case.rules
    for scenario in case.simulator.SCENARIOS:
        sim = fresh(case)
        native_id = case.simulator.create_in(sim.store, scenario)
        async with adapter(sim) as (provider, faults):
            [job] = await provider.read_jobs([native_id])
            assert isinstance(job, Job)
            allowed = sorted(job.allowed_actions & rules.supported, key=lambda a: a.value)
            if not allowed:
                continue
            for method in case.write_methods:
                faults.add(Fault(method, case.write_path, "drop-after"))
            request = _request(case, allowed[0], sim.store, native_id)
            [outcome] = await provider.perform(request, [native_id])
            assert case.writes(faults) == 1, "a write is never retried"
            # Read back: the change happened in the simulator, so the adapter reports it.
            assert isinstance(outcome, Job | Deleted), outcome
        return
    pytest.fail("no scenario accepts any action")
