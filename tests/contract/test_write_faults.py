"""Every write of every provider, through the production transport (aiohttp) over a real
socket, against what a real upstream or load balancer does to a write: exactly one write
reaches the upstream, success is reported only when reading the job back shows the change,
and every other outcome has its contract code.

The fault server (``simulators/fault_proxy.py``) sits between the gateway and the simulator:

* ``drop-before``: the connection closes before the simulator sees the write;
* ``drop-after``: the simulator applies it, then the connection closes without an answer;
* ``hang-after``: applied, then no answer until after the call's timeout;
* ``500`` / ``503``: answered at once, not applied;
* ``applied-500``: applied, then answered 500;
* ``applied-garbage`` / ``applied-empty``: applied, then a 200 whose body is not JSON / empty.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from jobgate.domain import ActionOutcome, Deleted, ErrorCode, Job, JobAction, JobError
from jobgate.providers.base import JobProvider
from jobgate.providers.registry import build_provider
from jobgate.simulators.fault_proxy import FaultProxy, WireFault
from jobgate.simulators.suite import SimulatedVendor, suite_app
from jobgate.upstream.transport import production_transport
from tests.contract.cases import CASES, ProviderCase
from tests.harness import vendor

TIMEOUT = 0.5  # per upstream call: the hang lasts longer


@dataclass(frozen=True)
class WriteFault:
    name: str
    kind: str
    status: int = 500
    body: bytes = b""
    content_type: str = "application/json"
    applied: bool = True  # whether the simulator applies the write before the fault
    expected: ErrorCode | None = None  # None: success, seen on reading the job back


FAULTS = [
    WriteFault("drop-before", "drop-before", applied=False, expected=ErrorCode.OUTCOME_UNKNOWN),
    WriteFault("drop-after", "drop-after"),
    WriteFault("hang-after", "hang-after"),
    WriteFault("500", "status", applied=False, expected=ErrorCode.UPSTREAM_UNAVAILABLE),
    WriteFault("503", "status", status=503, applied=False, expected=ErrorCode.UPSTREAM_UNAVAILABLE),
    WriteFault(
        "applied-500", "status-after", body=b"Internal Server Error", content_type="text/plain"
    ),
    WriteFault(
        "applied-garbage",
        "status-after",
        status=200,
        body=b"<html>OK</html>",
        content_type="text/html",
    ),
    WriteFault("applied-empty", "status-after", status=200),
]
WRITES = [
    (case, action)
    for case in CASES
    for action in sorted(case.rules.supported, key=lambda a: a.value)
]


@contextlib.asynccontextmanager
async def over_a_socket(
    sim: SimulatedVendor,
) -> AsyncIterator[tuple[JobProvider, FaultProxy]]:
    """The real adapter, on the production transport, talking to ``sim`` through a fault
    server on 127.0.0.1."""
    async with FaultProxy(suite_app([sim])) as proxy:
        origin = await proxy.start()
        settings = sim.source_settings(origin, timeout=TIMEOUT, retries=1)
        provider = build_provider(settings, production_transport(settings))
        try:
            yield provider, proxy
        finally:
            await provider.aclose()


async def job_accepting(
    case: ProviderCase, sim: SimulatedVendor, action: JobAction, provider: JobProvider
) -> str:
    """A new job in the first scenario whose job, read, offers ``action``."""
    for scenario in case.simulator.SCENARIOS:
        native_id: str = case.simulator.create_in(sim.store, scenario)
        [job] = await provider.read_jobs([native_id])
        if isinstance(job, Job) and action in job.allowed_actions:
            return native_id
    raise AssertionError(f"no scenario accepts {action.value}")


def request_for(case: ProviderCase, action: JobAction, store: Any, native_id: str) -> Any:
    request = case.request_for(action, store, native_id)
    return replace(request, batch=action in case.rules.batch)


def writes(case: ProviderCase, proxy: FaultProxy) -> int:
    return sum(proxy.count(method, case.write_path) for method in case.write_methods)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
@pytest.mark.parametrize(
    ("case", "action"), WRITES, ids=[f"{c}-{a.value.lower()}" for c, a in WRITES]
)
async def test_a_write_under_a_fault_leaves_once_and_is_reported_truthfully(
    case: ProviderCase, action: JobAction, fault: WriteFault
) -> None:
    sim = vendor(case.provider)
    async with over_a_socket(sim) as (provider, proxy):
        native_id = await job_accepting(case, sim, action, provider)
        request = request_for(case, action, sim.store, native_id)
        for method in case.write_methods:
            proxy.add(
                WireFault(
                    method,
                    case.write_path,
                    fault.kind,
                    status=fault.status,
                    body=fault.body,
                    content_type=fault.content_type,
                    hang=TIMEOUT * 4,
                )
            )
        [outcome] = await provider.perform(request, [native_id])
        sent = writes(case, proxy)
        [after] = await provider.read_jobs([native_id])
    assert sent == 1, f"{sent} writes reached the upstream"
    if fault.expected is None:
        assert_applied(action, outcome, after)
    else:
        assert isinstance(outcome, JobError), f"claimed {outcome} for a write not applied"
        assert outcome.code is fault.expected, outcome
        assert_not_applied(action, outcome, after)


def assert_applied(action: JobAction, outcome: ActionOutcome, after: object) -> None:
    if action is JobAction.DELETE:
        assert isinstance(outcome, Deleted), outcome
        assert after is None
        return
    assert isinstance(outcome, Job), outcome
    assert isinstance(after, Job) and after.provider_status == outcome.provider_status


def assert_not_applied(action: JobAction, outcome: JobError, after: object) -> None:
    assert after is not None, "the job is still there"
    assert isinstance(after, Job) and action in after.allowed_actions, (
        "read again, the job still accepts the change it was not given"
    )
    assert "Read back" in outcome.message, "the job was read back before answering"
