"""jobUpdated over real WebSocket and SSE connections: current state, upstream changes, own
mutations at once, disappearance, one poll per job per interval, faults, auth and limits."""

from __future__ import annotations

import asyncio

import pytest

from jobgate.config import ServerSettings
from jobgate.config.auth import AuthSettings
from jobgate.simulators.faults import Fault
from tests.live.support import WATCH, live_gateway, sse_events, ws_client
from tests.security.support import READER_KEY, api_keys

OPEN_JOB = "ingest:7505e000001NLkPAAW"
NATIVE = OPEN_JOB.partition(":")[2]
JOB_PATH = rf".*/api/v1/ingest/jobs/{NATIVE}"


async def test_current_state_then_upstream_changes_then_disappearance_over_websocket() -> None:
    async with live_gateway(poll_interval=0.1) as live, ws_client(live) as ws:
        assert (await ws.receive())["type"] == "connection_ack"
        await ws.subscribe("1", [OPEN_JOB, "hub:6161", "nope", "field:424242"])
        first = {u["id"]: u for u in await ws.updates(4)}
        assert first["nope"]["error"]["code"] == "INVALID_ID"
        assert first[OPEN_JOB]["job"] == {"status": "OPEN", "providerStatus": "Open"}
        assert first["hub:6161"]["job"]["providerStatus"] == "Pending"
        assert first["field:424242"] == {
            "id": "field:424242",
            "job": None,
            "error": first["field:424242"]["error"],
        }
        assert first["field:424242"]["error"]["code"] == "NOT_FOUND"
        live.store("ingest").set_state(NATIVE, "UploadComplete")  # someone else, upstream
        [changed] = await ws.updates(1)
        assert changed["id"] == OPEN_JOB and changed["job"]["providerStatus"] == "UploadComplete"
        del live.store("ingest").jobs[NATIVE]
        [gone] = await ws.updates(1)
        assert gone["job"] is None and gone["error"]["code"] == "NOT_FOUND"
        with pytest.raises(TimeoutError):  # nothing more for a job that is gone
            await ws.receive(within=0.5)


async def test_a_change_made_through_the_gateway_is_pushed_at_once() -> None:
    # A poll every minute: only the mutation's own outcome can arrive within the test.
    async with live_gateway(poll_interval=60) as live, ws_client(live) as ws:
        await ws.receive()
        await ws.subscribe("watch", [OPEN_JOB])
        await ws.updates(1)
        close = f'mutation {{ closeJob(id: "{OPEN_JOB}") {{ job {{ status }} error {{ code }} }} }}'
        await ws.send({"type": "subscribe", "id": "close", "payload": {"query": close}})
        seen = [await ws.receive(within=2) for _ in range(3)]
    by_kind = {(m["type"], m["id"]) for m in seen}
    assert ("complete", "close") in by_kind
    [pushed] = [m for m in seen if m["id"] == "watch"]
    assert pushed["payload"]["data"]["jobUpdated"]["job"]["providerStatus"] == "UploadComplete"


async def test_fifty_subscribers_of_one_job_cost_one_read_per_interval() -> None:
    interval = 0.25
    async with live_gateway(poll_interval=interval) as live:
        async with ws_client(live) as a, ws_client(live) as b, ws_client(live) as c:
            for ws in (a, b, c):
                await ws.receive()
            sockets = [a, b, c] * 17
            for n, ws in enumerate(sockets[:50]):
                await ws.subscribe(f"s{n}", [OPEN_JOB])
            for ws, count in ((a, 17), (b, 17), (c, 16)):
                await ws.updates(count)
            before = live.reads("ingest", JOB_PATH)
            await asyncio.sleep(interval * 8)
            polled = live.reads("ingest", JOB_PATH) - before
    assert 6 <= polled <= 9, polled  # 8 intervals: one read each, whoever watches


async def test_a_failing_source_sends_one_error_then_the_job_again_on_recovery() -> None:
    async with live_gateway(poll_interval=0.1) as live, ws_client(live) as ws:
        await ws.receive()
        await ws.subscribe("1", [OPEN_JOB])
        await ws.updates(1)
        live.faults["ingest"].add(Fault("GET", JOB_PATH, "status", status=503, times=-1))
        [failed] = await ws.updates(1)
        assert failed["job"] is None and failed["error"]["code"] == "UPSTREAM_UNAVAILABLE"
        with pytest.raises(TimeoutError):  # the same error is not repeated at every poll
            await ws.receive(within=0.6)
        live.faults["ingest"].clear()
        [back] = await ws.updates(1, within=3)
        assert back["job"]["providerStatus"] == "Open" and back["error"] is None


async def test_sse_streams_the_subscription_and_completes_a_query() -> None:
    async with live_gateway(poll_interval=0.1) as live:
        status, events = await sse_events(live, {"query": "{ __typename }"})
        assert status == 200 and events == [
            ("next", {"data": {"__typename": "Query"}}),
            ("complete", None),
        ]

        async def change_soon() -> None:
            await asyncio.sleep(0.3)
            live.store("ingest").set_state(NATIVE, "Aborted")

        changing = asyncio.create_task(change_soon())
        body = {"query": WATCH, "variables": {"ids": [OPEN_JOB]}}
        status, events = await sse_events(live, body, stop_after=2)
        await changing
    assert status == 200
    states = [e[1]["data"]["jobUpdated"]["job"]["providerStatus"] for e in events]
    assert states == ["Open", "Aborted"]


async def test_both_transports_refuse_a_caller_without_credentials() -> None:
    auth = AuthSettings(api_keys=api_keys())
    async with live_gateway(auth=auth) as live:
        async with ws_client(live, {"x-api-key": "wrong"}) as ws:
            with pytest.raises(Exception) as closed:
                await ws.receive()
            assert getattr(closed.value, "rcvd", None) is not None
            assert closed.value.rcvd.code == 4403  # type: ignore[attr-defined]
        status, events = await sse_events(live, {"query": WATCH, "variables": {"ids": [OPEN_JOB]}})
        assert status == 401
        async with ws_client(live, {"x-api-key": READER_KEY}) as ws:
            assert (await ws.receive())["type"] == "connection_ack"
            await ws.subscribe("1", [OPEN_JOB])
            [update] = await ws.updates(1)
            assert update["job"]["status"] == "OPEN"
        status, events = await sse_events(
            live,
            {"query": WATCH, "variables": {"ids": [OPEN_JOB]}},
            {"x-api-key": READER_KEY},
            stop_after=1,
        )
        assert status == 200 and events[0][1]["data"]["jobUpdated"]["id"] == OPEN_JOB


async def test_limits_per_connection_per_client_and_per_subscription() -> None:
    server = ServerSettings(
        max_subscriptions_per_connection=2, max_live_connections_per_client=1, max_ids=3
    )
    async with live_gateway(server=server) as live, ws_client(live) as ws:
        await ws.receive()
        await ws.subscribe("a", [OPEN_JOB])
        await ws.subscribe("b", ["hub:6161"])
        await ws.updates(2)
        await ws.subscribe("c", ["gis:j1Xo9"])
        refused = await ws.receive()
        assert refused["type"] == "error" and refused["id"] == "c"
        assert refused["payload"][0]["extensions"]["code"] == "RATE_LIMITED"
        await ws.send({"type": "complete", "id": "b"})
        await ws.subscribe("d", ["gis:j1Xo9", "gis:j2Pq4", "gis:j3Rw7", "gis:j4Cl2"])
        too_many = await ws.receive()
        assert too_many["id"] == "d" and too_many["type"] == "next"
        assert too_many["payload"]["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
        # The same client's second live connection, while the first is open.
        async with ws_client(live) as second:
            with pytest.raises(Exception) as closed:
                await second.receive()
            assert closed.value.rcvd.code == 4429  # type: ignore[attr-defined]
        status, events = await sse_events(live, {"query": WATCH, "variables": {"ids": [OPEN_JOB]}})
        assert status == 200 and events[0][1]["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert events[-1] == ("complete", None)


async def test_protocol_mistakes_close_the_socket_with_their_codes() -> None:
    async with live_gateway() as live:
        async with ws_client(live) as ws:
            await ws.receive()
            await ws.subscribe("1", [OPEN_JOB])
            await ws.updates(1)
            await ws.subscribe("1", [OPEN_JOB])
            with pytest.raises(Exception) as closed:
                await ws.receive()
            assert closed.value.rcvd.code == 4409  # type: ignore[attr-defined]
        async with ws_client(live) as ws:
            await ws.receive()
            await ws.send({"type": "connection_init"})
            with pytest.raises(Exception) as closed:
                await ws.receive()
            assert closed.value.rcvd.code == 4429  # type: ignore[attr-defined]
        async with ws_client(live) as ws:
            await ws.receive()
            await ws.connection.send("not json")
            with pytest.raises(Exception) as closed:
                await ws.receive()
            assert closed.value.rcvd.code == 4400  # type: ignore[attr-defined]


async def test_an_sse_stream_outlives_the_request_timeout() -> None:
    """request_timeout bounds a request's work, not how long a subscription may stay open."""
    async with live_gateway(poll_interval=0.2, server=ServerSettings(request_timeout=1.0)) as live:

        async def change_later() -> None:
            await asyncio.sleep(2.0)
            live.store("ingest").set_state(NATIVE, "Aborted")

        changing = asyncio.create_task(change_later())
        body = {"query": WATCH, "variables": {"ids": [OPEN_JOB]}}
        status, events = await sse_events(live, body, stop_after=2, within=6)
        await changing
    assert status == 200
    assert [e[1]["data"]["jobUpdated"]["job"]["providerStatus"] for e in events] == [
        "Open",
        "Aborted",
    ]


async def test_a_mutation_over_sse_is_refused_and_changes_nothing() -> None:
    async with live_gateway() as live:
        close = f'mutation {{ closeJob(id: "{OPEN_JOB}") {{ job {{ status }} }} }}'
        status, events = await sse_events(live, {"query": close})
        assert status == 400 and "application/json" in events[0][1]["errors"][0]["message"]
        assert live.store("ingest").jobs[NATIVE]["state"] == "Open"
