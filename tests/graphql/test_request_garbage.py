"""A request's execution state is freed when it ends, not left for the cyclic collector.

Under load, cyclic garbage made the collector run every few hundred requests and walk every live
object: ~15 % of the CPU and 100-300 ms pauses. graphql-core's executor and the per-request
DataLoader used to form reference cycles (~60 objects a request); now nothing the execution of
a request builds should need the collector. (The test client's own httpx objects may: they are
not the gateway's.)
"""

from __future__ import annotations

import gc
from collections import Counter

import pytest

from tests import harness

READ = """query Jobs($ids: [ID!]!) {
  jobs(ids: $ids) { id status providerStatus allowedActions details { __typename } }
  one: job(id: "gis:j3Rw7") { id status }
}"""
IDS = ["ingest:7505e000001NLkPAAW", "hub:6160", "field:1001", "gis:j1Xo9"]
EXECUTION = ("graphql.", "strawberry.", "jobgate.")


# Field errors too: an id of no source, a malformed id, a job that does not exist.
FAILING = """query Jobs($ids: [ID!]!) {
  jobs(ids: $ids) { id status }
  missing: job(id: "ingest:7505e000009ZZZZAAW") { id }
}"""
BAD_IDS = ["ingest:7505e000001NLkPAAW", "nowhere:1", "hub:x!"]


@pytest.mark.parametrize(("query", "ids"), [(READ, IDS), (FAILING, BAD_IDS)], ids=["ok", "errors"])
async def test_requests_leave_no_cyclic_garbage_from_their_execution(
    gw: harness.Gateway, query: str, ids: list[str]
) -> None:
    await gw.gql(query, {"ids": ids})  # warm: caches, lazily built objects
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(20):
            body = await gw.gql(query, {"ids": ids})
            assert len(body["data"]["jobs"]) == len(ids)
        gc.collect()
        found = Counter(
            f"{type(o).__module__}.{type(o).__qualname__}"
            for o in gc.garbage
            if type(o).__module__.startswith(EXECUTION)
        )
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not found, found
