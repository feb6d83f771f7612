"""Idempotency-Key through the whole gateway app, over the in-memory store and a real Redis."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from jobgate.config import IdempotencySettings, ServerSettings
from jobgate.domain.principal import READ, WRITE, Principal
from jobgate.simulators.faults import Fault
from jobgate.simulators.suite import build_vendors
from tests import harness
from tests.idempotency.conftest import free_port

OPEN = "ingest:7505e000001NLkPAAW"
OTHER_OPEN = "ingest:7505e000001NLkQAAW"
ABORT = "mutation Abort($id: ID!) { abortJob(id: $id) { job { id status } error { code } } }"
ABORT_APPLIED = (
    "mutation Abort($id: ID!) { abortJob(id: $id) { job { id status } error { code } "
    "alreadyApplied } }"
)
CLOSE = "mutation Close($id: ID!) { closeJob(id: $id) { job { id status } error { code } } }"
DC_JOB = r".*/api/v1/ingest/jobs/[^/]+"


@pytest.fixture
async def gw(backend: IdempotencySettings) -> AsyncIterator[harness.Gateway]:
    async with harness.gateway(idempotency=backend) as running:
        yield running


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    key: str | bytes | None = None,
    **headers: str,
) -> httpx.Response:
    sent: dict[str, str | bytes] = {**headers}
    if key is not None:
        sent["Idempotency-Key"] = key
    body = {"query": query, "variables": variables}
    return await client.post("/graphql", json=body, headers=sent)


async def reached(slow: Fault) -> None:
    """Until the slow write has been taken: the first request then holds the key."""
    for _ in range(500):
        if slow.times == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the first request never reached the upstream")


def code_of(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def test_same_key_replays_without_calling_the_upstream(gw: harness.Gateway) -> None:
    first = await post(gw.client, ABORT, {"id": OPEN}, "order-1")
    assert first.status_code == 200
    assert first.json()["data"]["abortJob"]["job"]["status"] == "ABORTED"
    assert "idempotent-replayed" not in first.headers
    again = await post(gw.client, ABORT, {"id": OPEN}, "order-1", **{"X-Request-Id": "retry-1"})
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["x-request-id"] == "retry-1"
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.content == first.content
    assert gw.faults["ingest"].calls("PATCH") == 1


async def test_layout_and_variable_order_do_not_change_the_request(gw: harness.Gateway) -> None:
    variables = {"id": OPEN, "unused": {"b": 1, "a": 2}}
    first = await post(gw.client, ABORT, variables, "order-2")
    spaced = "# a comment\nmutation   Abort( $id : ID! )\n{ abortJob(id:$id) {\n job { id status }"
    spaced += " error { code } } }"
    again = await post(gw.client, spaced, {"unused": {"a": 2, "b": 1}, "id": OPEN}, "order-2")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert gw.faults["ingest"].calls("PATCH") == 1


async def test_same_key_with_other_variables_is_422(gw: harness.Gateway) -> None:
    assert (await post(gw.client, ABORT, {"id": OPEN}, "order-3")).status_code == 200
    reused = await post(gw.client, ABORT, {"id": OTHER_OPEN}, "order-3")
    assert reused.status_code == 422
    assert code_of(reused) == "IDEMPOTENCY_KEY_REUSED"
    assert reused.headers["x-request-id"]
    assert gw.store("ingest").jobs["7505e000001NLkQAAW"]["state"] == "Open"
    other_operation = await post(gw.client, CLOSE, {"id": OPEN}, "order-3")
    assert other_operation.status_code == 422
    assert gw.faults["ingest"].calls("PATCH") == 1


async def test_same_key_while_the_first_runs_is_409(gw: harness.Gateway) -> None:
    slow = gw.faults["ingest"].add(Fault("PATCH", r".*", "delay", delay=0.5))
    first = asyncio.create_task(post(gw.client, ABORT, {"id": OPEN}, "order-4"))
    await reached(slow)
    busy = await post(gw.client, ABORT, {"id": OPEN}, "order-4")
    assert busy.status_code == 409
    assert busy.headers["retry-after"] == "1"
    assert code_of(busy) == "IDEMPOTENCY_KEY_IN_USE"
    assert (await first).status_code == 200
    after = await post(gw.client, ABORT, {"id": OPEN}, "order-4")
    assert after.headers["idempotent-replayed"] == "true"
    assert gw.faults["ingest"].calls("PATCH") == 1


async def test_outcome_unknown_is_resumed_by_reading_not_resent(gw: harness.Gateway) -> None:
    """The first attempt applied the abort but could not see it (every read-back failed): the
    retry with the same key reads the job, sees it aborted, and says so - without a write."""
    faults = gw.faults["ingest"]
    # The pre-check read passes, the write loses its answer, every read-back fails.
    faults.add(Fault("GET", DC_JOB, "delay", delay=0, times=1))
    faults.add(Fault("PATCH", DC_JOB, "drop-after"))
    faults.add(Fault("GET", DC_JOB, "status", status=503, times=-1))
    first = await post(gw.client, ABORT_APPLIED, {"id": OPEN}, "order-5")
    assert first.json()["data"]["abortJob"]["error"]["code"] == "OUTCOME_UNKNOWN"
    faults.faults.clear()
    again = await post(gw.client, ABORT_APPLIED, {"id": OPEN}, "order-5")
    assert "idempotent-replayed" not in again.headers
    assert again.json()["data"]["abortJob"] == {
        "job": {"id": OPEN, "status": "ABORTED"},
        "error": None,
        "alreadyApplied": True,
    }
    assert faults.calls("PATCH") == 1, "the change was not sent again"
    # Now settled: replayed from here on.
    third = await post(gw.client, ABORT_APPLIED, {"id": OPEN}, "order-5")
    assert third.headers["idempotent-replayed"] == "true" and third.content == again.content


async def test_an_unknown_outcome_that_did_not_happen_is_written_on_the_retry(
    backend: IdempotencySettings,
) -> None:
    async with harness.gateway(idempotency=backend, timeout=0.3) as gw:
        faults = gw.faults["ingest"]
        faults.add(Fault("PATCH", DC_JOB, "delay", delay=5))  # times out before arriving
        first = await post(gw.client, ABORT_APPLIED, {"id": OPEN}, "order-5b")
        assert first.json()["data"]["abortJob"]["error"]["code"] == "OUTCOME_UNKNOWN"
        again = await post(gw.client, ABORT_APPLIED, {"id": OPEN}, "order-5b")
        payload = again.json()["data"]["abortJob"]
        assert payload["job"]["status"] == "ABORTED" and payload["alreadyApplied"] is False
        assert faults.calls("PATCH") == 1, "the first write never arrived; the retry's did"


async def test_request_errors_release_the_key(gw: harness.Gateway) -> None:
    missing = await post(gw.client, ABORT, {}, "order-6")  # $id not given: nothing runs
    assert missing.json().get("data") is None
    fixed = await post(gw.client, ABORT, {"id": OPEN}, "order-6")
    assert "idempotent-replayed" not in fixed.headers
    assert fixed.json()["data"]["abortJob"]["job"]["status"] == "ABORTED"


async def test_queries_ignore_the_header(gw: harness.Gateway) -> None:
    query = "query($id: ID!) { job(id: $id) { id status } }"
    for job in (OPEN, OTHER_OPEN):
        response = await post(gw.client, query, {"id": job}, "order-7")
        assert response.status_code == 200
        assert "idempotent-replayed" not in response.headers
        assert response.json()["data"]["job"]["id"] == job
    odd = await post(gw.client, query, {"id": OPEN}, "bad\tkey")
    assert odd.status_code == 200
    params = {"query": "{ sources { name } }"}
    plain_get = await gw.client.get("/graphql", params=params)
    keyed_get = await gw.client.get("/graphql", params=params, headers={"Idempotency-Key": ""})
    assert (keyed_get.status_code, keyed_get.content) == (plain_get.status_code, plain_get.content)
    # The key was not spent on the queries.
    mutated = await post(gw.client, ABORT, {"id": OPEN}, "order-7")
    assert "idempotent-replayed" not in mutated.headers
    assert gw.faults["ingest"].calls("PATCH") == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "a\tb", b"caf\xe9", "line\x7f"])
async def test_malformed_key_is_400_and_nothing_runs(gw: harness.Gateway, key: str | bytes) -> None:
    response = await post(gw.client, ABORT, {"id": OPEN}, key)
    assert response.status_code == 400
    assert code_of(response) == "INVALID_IDEMPOTENCY_KEY"
    assert "255 printable ASCII" in response.json()["errors"][0]["message"]
    assert gw.faults["ingest"].calls("PATCH") == 0


async def test_two_keys_in_one_request_are_400(gw: harness.Gateway) -> None:
    headers = [("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    response = await gw.client.post(
        "/graphql", json={"query": ABORT, "variables": {"id": OPEN}}, headers=headers
    )
    assert response.status_code == 400
    assert code_of(response) == "INVALID_IDEMPOTENCY_KEY"


async def test_longest_key_is_accepted(gw: harness.Gateway) -> None:
    key = "k:" + "~" * 253
    assert (await post(gw.client, ABORT, {"id": OPEN}, key)).status_code == 200
    assert (await post(gw.client, ABORT, {"id": OPEN}, key)).headers["idempotent-replayed"]


def as_caller(app: ASGIApp, name: str) -> ASGIApp:
    """What client authentication does: record the principal in the request's state."""
    principal = Principal(name=name, scopes=frozenset({READ, WRITE}))

    async def authenticated(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = {**scope, "state": {**scope.get("state", {}), "principal": principal}}
        await app(scope, receive, send)

    return authenticated


async def test_keys_belong_to_their_caller(gw: harness.Gateway) -> None:
    clients = [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=as_caller(gw.app, name)), base_url="http://gw.test"
        )
        for name in ("alice", "bob")
    ]
    async with clients[0] as alice, clients[1] as bob:
        assert (await post(alice, ABORT, {"id": OPEN}, "shared-key")).status_code == 200
        # Bob's request is his own: not a replay of Alice's, nor a reuse of her key.
        bobs = await post(bob, CLOSE, {"id": OTHER_OPEN}, "shared-key")
        assert bobs.status_code == 200
        assert "idempotent-replayed" not in bobs.headers
        assert bobs.json()["data"]["closeJob"]["job"]["status"] == "QUEUED"
        replay = await post(alice, ABORT, {"id": OPEN}, "shared-key")
        assert replay.headers["idempotent-replayed"] == "true"
        assert (await post(bob, ABORT, {"id": OPEN}, "shared-key")).status_code == 422
    assert gw.faults["ingest"].calls("PATCH") == 2


async def test_answers_expire_after_the_ttl(backend: IdempotencySettings) -> None:
    short = IdempotencySettings(redis_url=backend.redis_url, ttl_seconds=0.3)
    async with harness.gateway(idempotency=short) as gw:
        first = await post(gw.client, ABORT, {"id": OPEN}, "order-8")
        assert first.json()["data"]["abortJob"]["job"]["status"] == "ABORTED"
        await asyncio.sleep(0.45)
        again = await post(gw.client, ABORT, {"id": OPEN}, "order-8")
        assert "idempotent-replayed" not in again.headers
        # It ran again: the job is aborted by now, so the provider refuses.
        assert again.json()["data"]["abortJob"]["error"]["code"] == "INVALID_STATE"


async def test_a_deadline_mid_write_answers_outcome_unknown_in_the_payload(
    backend: IdempotencySettings,
) -> None:
    """request_timeout 1 s, a write the upstream takes 3 s to answer: the write waits only as
    long as leaves time to read the job back, and the mutation answers a payload in time."""
    async with harness.gateway(
        server=ServerSettings(request_timeout=1.0), idempotency=backend
    ) as gw:
        gw.faults["ingest"].add(Fault("PATCH", r".*", "delay", delay=3.0))
        accept = {"Accept": "application/graphql-response+json"}
        started = asyncio.get_running_loop().time()
        first = await post(gw.client, ABORT_APPLIED, {"id": OPEN}, "order-9", **accept)
        took = asyncio.get_running_loop().time() - started
        assert first.status_code == 200, first.text
        error = first.json()["data"]["abortJob"]["error"]
        assert error["code"] == "OUTCOME_UNKNOWN"
        assert took < 1.5, f"answered after {took:.2f} s"
        # Not replayed: the retry reads the job (still Open: the write never arrived) and
        # sends it now.
        gw.faults["ingest"].faults.clear()
        again = await post(gw.client, ABORT_APPLIED, {"id": OPEN}, "order-9", **accept)
        assert "idempotent-replayed" not in again.headers
        assert again.json()["data"]["abortJob"]["job"]["status"] == "ABORTED"


async def test_replicas_sharing_redis_see_each_others_keys(redis_url: str) -> None:
    vendors = build_vendors()  # one set of upstreams behind both replicas
    shared = IdempotencySettings(redis_url=redis_url)
    async with (
        harness.gateway(vendors, idempotency=shared) as one,
        harness.gateway(vendors, idempotency=shared) as two,
    ):
        slow = one.faults["ingest"].add(Fault("PATCH", r".*", "delay", delay=0.5))
        first = asyncio.create_task(post(one.client, ABORT, {"id": OPEN}, "order-10"))
        await reached(slow)
        busy = await post(two.client, ABORT, {"id": OPEN}, "order-10")
        assert busy.status_code == 409
        answered = await first
        replay = await post(two.client, ABORT, {"id": OPEN}, "order-10")
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.content == answered.content
        reused = await post(two.client, ABORT, {"id": OTHER_OPEN}, "order-10")
        assert reused.status_code == 422
        assert one.faults["ingest"].calls("PATCH") == 1
        assert two.faults["ingest"].calls("PATCH") == 0


async def test_unreachable_redis_is_503_and_the_mutation_does_not_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = IdempotencySettings(redis_url=f"redis://:hunter2pw@127.0.0.1:{free_port()}/0")
    async with harness.gateway(idempotency=down) as gw:
        with caplog.at_level(logging.ERROR, logger="jobgate.idempotency"):
            refused = await post(gw.client, ABORT, {"id": OPEN}, "order-11")
        assert refused.status_code == 503
        assert code_of(refused) == "IDEMPOTENCY_UNAVAILABLE"
        assert gw.faults["ingest"].calls("PATCH") == 0
        assert gw.store("ingest").jobs["7505e000001NLkPAAW"]["state"] == "Open"
        # Without the header the request does not need the store.
        plain = await post(gw.client, ABORT, {"id": OPEN})
        assert plain.json()["data"]["abortJob"]["job"]["status"] == "ABORTED"
    assert "unavailable" in caplog.text
    assert "***" in caplog.text
    assert "hunter2pw" not in caplog.text
