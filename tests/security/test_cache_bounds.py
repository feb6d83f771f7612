"""Nothing a client sends can pin memory in the gateway's caches (issue: 1,100 requests with a
95 KB operationName took RSS from 70 to 163 MB; 1,100 distinct introspection documents added
~100 MB)."""

from __future__ import annotations

import gc
import tracemalloc

from graphql import get_introspection_query
from jobgate.graphql.execution import CACHE_BYTES
from jobgate.lru import SizedLRU
from tests import harness


def retained_mb(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> float:
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / 1e6


async def test_huge_operation_names_are_not_kept() -> None:
    async with harness.gateway() as gw:
        await gw.client.post("/graphql", json={"query": "{ __typename }"})
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for n in range(300):
            name = f"N{n}" + "x" * 95_000
            body = {"query": "query Q { __typename }", "operationName": name}
            response = await gw.client.post("/graphql", json=body)
            assert response.status_code == 200  # "No operation named ..." as a request error
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
    # Before the fix each name stayed in the inspection cache: 300 x 95 KB = 28 MB.
    assert retained_mb(before, after) < 5


async def test_distinct_introspection_documents_stay_within_the_document_budget() -> None:
    async with harness.gateway() as gw:
        executor = gw.app.state.endpoint.executor
        pad = "#" + "x" * 8_000 + "\n"  # ~9.5 KB documents: far past the budget in 60
        for n in range(60):
            query = f"# variant {n}\n{pad}" + get_introspection_query()
            response = await gw.client.post("/graphql", json={"query": query})
            assert "__schema" in response.json()["data"]
        assert executor._prepared.cost <= CACHE_BYTES
        assert 0 < len(executor._prepared) < 60, "the oldest documents were dropped"
        # Introspection answers (~100 KB each) are not kept as constant answers.
        assert all(not entry.static for entry, _ in executor._prepared._entries.values())


def test_the_sized_lru_drops_the_oldest_and_refuses_what_is_too_dear() -> None:
    cache: SizedLRU[str, str] = SizedLRU(max_cost=100, max_entry_cost=60)
    cache.put("a", "A", 40)
    cache.put("b", "B", 40)
    assert cache.get("a") == "A"  # now the most recent
    cache.put("c", "C", 40)  # 120 > 100: the least recently used ("b") goes
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, "A", "C")
    cache.put("d", "D", 61)  # dearer than an entry may be: not kept, nothing dropped
    assert cache.get("d") is None and len(cache) == 2 and cache.cost == 80
