"""Upstream faults, provider by provider, through the simulators (every case in CASES).

Reads go through the whole GraphQL app; writes through the gateway service over the real
adapter. Each fault checks the contract code, how many times the upstream was reached (a write
never twice), and that the next request is answered normally.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import pytest

from jobgate.domain import ActionRequest, Deleted, ErrorCode, Job, JobError
from jobgate.gateway import Gateway
from jobgate.simulators.faults import Fault, FaultyTransport
from jobgate.simulators.suite import SimulatedVendor
from tests import harness
from tests.contract.cases import CASES, ProviderCase

pytestmark = pytest.mark.parametrize("case", CASES, ids=str)

JOB = "query($id: ID!) { job(id: $id) { id status } }"
TIMES = 5  # each fault is armed this often; what is left shows how many attempts it met


@dataclass(frozen=True)
class ReadFault:
    name: str
    fault: Fault
    code: str
    attempts: int  # how many attempts met the fault: 3 when retried twice
    delivered: int  # how many of them reached the upstream


READ_FAULTS = [
    ReadFault(
        "500", Fault("GET", "", "status", status=500, body=b"boom"), "UPSTREAM_UNAVAILABLE", 1, 0
    ),
    ReadFault(
        "503-retry-after",
        Fault("GET", "", "status", status=503, headers={"Retry-After": "0"}),
        "UPSTREAM_UNAVAILABLE",
        3,
        0,
    ),
    ReadFault("slow", Fault("GET", "", "delay", delay=5), "UPSTREAM_TIMEOUT", 1, 0),
    ReadFault("refused", Fault("GET", "", "refuse"), "UPSTREAM_UNAVAILABLE", 3, 0),
    ReadFault("malformed", Fault("GET", "", "garbage"), "UPSTREAM_UNAVAILABLE", 1, 0),
]


def seeded(case: ProviderCase) -> tuple[SimulatedVendor, str]:
    sim = harness.vendor(case.provider)
    native_id = case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0])
    return sim, f"{sim.source}:{native_id}"


@pytest.mark.parametrize("read", READ_FAULTS, ids=lambda r: r.name)
async def test_read_fault(case: ProviderCase, read: ReadFault) -> None:
    sim, job_id = seeded(case)
    async with harness.gateway([sim], timeout=0.3) as gw:
        faults = gw.faults[sim.source]
        fault = faults.add(replace(read.fault, path=case.read_path, times=TIMES))
        started = time.monotonic()
        body = await gw.gql(JOB, {"id": job_id})
        assert time.monotonic() - started < 5
        assert body["data"] == {"job": None}
        [error] = body["errors"]
        assert error["extensions"]["code"] == read.code, error
        assert TIMES - fault.times == read.attempts
        assert faults.calls("GET", case.read_path) == read.delivered
        faults.clear()
        again = await gw.gql(JOB, {"id": job_id})
        assert "errors" not in again, again
        assert again["data"]["job"]["id"] == job_id


@dataclass(frozen=True)
class WriteFault:
    name: str
    fault: Fault
    codes: frozenset[ErrorCode]  # empty: the write took effect and is reported as done
    delivered: int  # how many writes reached the upstream


UNAVAILABLE = frozenset({ErrorCode.UPSTREAM_UNAVAILABLE})
WRITE_FAULTS = [
    # A status fault answers in the upstream's place: met once, never delivered.
    WriteFault("500", Fault("", "", "status", status=500, body=b"boom"), UNAVAILABLE, 0),
    WriteFault(
        "503-retry-after",
        Fault("", "", "status", status=503, headers={"Retry-After": "0"}),
        UNAVAILABLE,
        0,
    ),
    # Cut off before it reached the upstream: read back, the job is unchanged.
    WriteFault("slow", Fault("", "", "delay", delay=5), frozenset({ErrorCode.OUTCOME_UNKNOWN}), 0),
    WriteFault("refused", Fault("", "", "refuse"), UNAVAILABLE, 0),
    # Applied, then the answer was lost: read back, the change is there.
    WriteFault("dropped", Fault("", "", "drop-after"), frozenset(), 1),
]


async def actionable(case: ProviderCase) -> tuple[SimulatedVendor, str, ActionRequest]:
    """A fresh simulator with a job that accepts some action, and a request for it."""
    for scenario in case.simulator.SCENARIOS:
        sim = harness.vendor(case.provider)
        native_id = case.simulator.create_in(sim.store, scenario)
        async with harness.adapter(sim) as (provider, _):
            [job] = await provider.read_jobs([native_id])
        assert isinstance(job, Job)
        allowed = sorted(job.allowed_actions & case.rules.supported, key=lambda a: a.value)
        if allowed:
            request = case.request_for(allowed[0], sim.store, native_id)
            # Batch-only providers (Workflow Manager) take actions the way manageJobs sends them.
            return sim, native_id, replace(request, batch=allowed[0] in case.rules.batch)
    pytest.fail("no scenario accepts any action")


def attempts(faults: list[Fault]) -> int:
    return sum(TIMES - f.times for f in faults)


@pytest.mark.parametrize("write", WRITE_FAULTS, ids=lambda w: w.name)
async def test_write_fault(case: ProviderCase, write: WriteFault) -> None:
    sim, native_id, request = await actionable(case)
    job_id = f"{sim.source}:{native_id}"
    async with harness.adapter(sim, timeout=0.3) as (provider, faults):
        service = Gateway({sim.source: provider})
        armed = [
            faults.add(replace(write.fault, method=m, path=case.write_path, times=TIMES))
            for m in case.write_methods
        ]
        [outcome] = await service.perform(request, [job_id])
        assert attempts(armed) == 1, "a write is sent at most once"
        assert case.writes(faults) == write.delivered
        if write.codes:
            assert isinstance(outcome, JobError), outcome
            assert outcome.code in write.codes, outcome
        else:
            assert isinstance(outcome, Job | Deleted), outcome
        await answers_normally(service, faults, job_id, deleted=isinstance(outcome, Deleted))


async def answers_normally(
    service: Gateway, faults: FaultyTransport, job_id: str, *, deleted: bool
) -> None:
    faults.clear()
    [again] = await service.read_jobs([job_id])
    if deleted:
        assert again is None
    else:
        assert isinstance(again, Job), again
