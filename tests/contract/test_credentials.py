"""Credentials that renew themselves, over every provider (PROVIDERS.md §5).

Each simulator serves its vendor's token endpoint and refuses expired tokens with its vendor's
401 body; the gateway must renew before expiry, share one renewal among concurrent calls, renew
once after a 401 and repeat the call (a write too), and report token failures truthfully.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from jobgate.domain import Deleted, ErrorCode, Job, JobAction, JobError
from jobgate.providers.base import HttpProvider
from jobgate.simulators.faults import Fault
from jobgate.upstream.credentials import RenewingToken
from tests.contract.cases import CASES, ProviderCase
from tests.harness import adapter, vendor

pytestmark = pytest.mark.parametrize("case", CASES, ids=str)


def renewing(provider: Any) -> RenewingToken:
    assert isinstance(provider, HttpProvider)
    credentials = provider.http.credentials
    assert isinstance(credentials, RenewingToken), "the demo configuration obtains its tokens"
    return credentials


async def test_several_expiry_periods_under_load_fail_no_call(case: ProviderCase) -> None:
    """Tokens live 0.8 s here; 16 callers read for 3 s. Every read succeeds, and the token is
    renewed about once per period (before it expires, in the background)."""
    sim = vendor(case.provider)
    case.token_lifetime(sim.store, 0.8)
    ids = [case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0]) for _ in range(4)]
    failures: list[object] = []
    reads = 0
    async with adapter(sim) as (provider, faults):
        deadline = time.monotonic() + 3.0

        async def reader(native_id: str) -> None:
            nonlocal reads
            while time.monotonic() < deadline:
                [job] = await provider.read_jobs([native_id])
                reads += 1
                if not isinstance(job, Job):
                    failures.append(job)
                await asyncio.sleep(0.005)

        await asyncio.gather(*(reader(ids[i % len(ids)]) for i in range(16)))
        renewals = renewing(provider).renewals
    assert failures == [], failures[:3]
    assert reads > 500
    # 3 s of 0.8 s tokens renewed 0.08 s early: the first token and three or four renewals.
    assert 4 <= renewals <= 5, renewals
    token_requests = faults.calls("POST", case.token_path)
    assert token_requests == renewals * (2 if "a360" in case.token_path else 1)


async def test_an_expired_token_is_renewed_once_for_every_waiting_call(case: ProviderCase) -> None:
    sim = vendor(case.provider)
    ids = [case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0]) for _ in range(10)]
    async with adapter(sim) as (provider, faults):
        await provider.read_jobs(ids[:1])
        before = faults.calls("POST", case.token_path)
        case.expire_tokens(sim.store)  # the upstream now answers 401 to the token held
        results = await asyncio.gather(*(provider.read_jobs([i]) for i in ids))
        assert all(isinstance(job, Job) for [job] in results), results
        assert renewing(provider).renewals == 2, "one renewal, shared by all ten calls"
        assert faults.calls("POST", case.token_path) == 2 * before


async def test_a_write_refused_for_its_token_is_sent_again_once(case: ProviderCase) -> None:
    """An expired token on the write itself: the upstream did nothing (401), so the write goes
    again with a new token - the one exception to "a write leaves once"."""
    sim = vendor(case.provider)
    native_id, action = writable_job(case, sim.store)
    request = replace(
        case.request_for(action, sim.store, native_id), batch=action in case.rules.batch
    )
    expired: list[bool] = []

    def expire_before_the_write(sent: httpx.Request) -> None:
        # Between the pre-check read and the write, the token expires.
        is_write = re.fullmatch(case.write_path, sent.url.path) is not None
        if sent.method in case.write_methods and is_write and not expired:
            expired.append(True)
            case.expire_tokens(sim.store)

    async with adapter(sim) as (provider, faults):
        faults.before_delivery = expire_before_the_write
        [outcome] = await provider.perform(request, [native_id])
        assert isinstance(outcome, Job | Deleted), outcome
        assert case.writes(faults) == 2, "refused once for its token, then sent once more"
        assert renewing(provider).renewals == 2


def writable_job(case: ProviderCase, store: Any) -> tuple[str, JobAction]:
    """A new job in the first scenario whose rules allow an action, and that action."""
    for scenario in case.simulator.SCENARIOS:
        allowed = sorted(case.rules.allowed_actions(scenario), key=lambda a: a.value)
        if allowed:
            return case.simulator.create_in(store, scenario), allowed[0]
    raise AssertionError("no scenario accepts any action")


async def test_refused_credentials_are_unauthenticated_in_the_vendors_words(
    case: ProviderCase,
) -> None:
    sim = vendor(case.provider)
    secret = "a-wrong-client-secret-nobody-has"
    native_id = case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0])
    async with adapter(sim, client_secret=secret) as (provider, faults):
        [read] = await provider.read_jobs([native_id])
        probe = await provider.probe()
    for error in (read, probe):
        assert isinstance(error, JobError) and error.code is ErrorCode.UNAUTHENTICATED, error
        assert error.upstream_status in (400, 401), error
        assert error.message and error.upstream_code, "the vendor's words and code are kept"
        assert secret not in repr(error)
    assert faults.calls("GET", case.read_path) == 0, "nothing is read without a token"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault("POST", "", "status", status=503, body=b"down"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("POST", "", "refuse"), ErrorCode.UPSTREAM_UNAVAILABLE),
        (Fault("POST", "", "delay", delay=5), ErrorCode.UPSTREAM_TIMEOUT),
        (Fault("POST", "", "garbage", body=b'{"token": "x"}'), ErrorCode.UPSTREAM_UNAVAILABLE),
    ],
    ids=["503", "refused", "timeout", "no-access-token"],
)
async def test_a_token_endpoint_that_cannot_answer(
    case: ProviderCase, fault: Fault, code: ErrorCode
) -> None:
    sim = vendor(case.provider)
    native_id = case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0])
    async with adapter(sim, timeout=0.3) as (provider, faults):
        faults.add(replace(fault, path=case.token_path))
        [error] = await provider.read_jobs([native_id])
        assert isinstance(error, JobError) and error.code is code, error
        assert faults.calls("GET", case.read_path) == 0
        [job] = await provider.read_jobs([native_id])  # the endpoint is back
        assert isinstance(job, Job)


async def test_a_change_never_waits_on_a_token_it_does_not_need(case: ProviderCase) -> None:
    """An unsupported action makes no call at all: not even a token request."""
    sim = vendor(case.provider)
    native_id = case.simulator.create_in(sim.store, case.simulator.SCENARIOS[0])
    unsupported = next(a for a in JobAction if not case.rules.offers(a))
    async with adapter(sim) as (provider, faults):
        [outcome] = await provider.perform(
            case.request_for(unsupported, sim.store, native_id), [native_id]
        )
    assert isinstance(outcome, JobError) and outcome.code is ErrorCode.UNSUPPORTED_ACTION
    assert sum(faults.delivered.values()) == 0
