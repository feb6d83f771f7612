"""searchJobs through the whole app: every source in config order, partial results, cursors,
bounds and who may list what."""

from __future__ import annotations

from typing import Any

from jobgate.config import ServerSettings
from jobgate.simulators.faults import Fault
from tests import harness
from tests.security.support import INGEST_KEY, READER_KEY, gateway, post

SEARCH = """
query Search($filter: JobFilter, $first: Int, $after: String) {
  searchJobs(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id source status providerStatus allowedActions createdAt updatedAt } }
    pageInfo { hasNextPage endCursor }
    sourceErrors { source code message error { upstreamStatus } }
  }
}
"""


async def everything(gw: harness.Gateway, first: int, **filter_: Any) -> tuple[list[str], int]:
    ids: list[str] = []
    after, pages = None, 0
    while True:
        variables = {"filter": filter_ or None, "first": first, "after": after}
        body = await gw.gql(SEARCH, variables)
        assert "errors" not in body, body
        page = body["data"]["searchJobs"]
        assert page["sourceErrors"] == []
        ids += [edge["node"]["id"] for edge in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            return ids, pages
        after = page["pageInfo"]["endCursor"]


async def test_pages_list_every_source_in_config_order_once() -> None:
    async with harness.gateway() as gw:
        expected = {v.source: set(v.store.jobs) for v in gw.vendors}
        ids, pages = await everything(gw, 7)
    assert len(ids) == len(set(ids))
    sources = [i.partition(":")[0] for i in ids]
    order = [v.source for v in gw.vendors]
    assert sources == sorted(sources, key=order.index)  # one source after the other
    for source, native_ids in expected.items():
        assert {i.partition(":")[2] for i in ids if i.startswith(source + ":")} == {
            str(n) for n in native_ids
        }
    assert pages >= len(ids) // 7


async def test_status_and_sources_filters_combine() -> None:
    async with harness.gateway() as gw:
        body = await gw.gql(
            SEARCH, {"filter": {"status": ["OPEN", "PENDING"], "sources": ["field", "ingest"]}}
        )
    page = body["data"]["searchJobs"]
    nodes = [edge["node"] for edge in page["edges"]]
    assert nodes and {n["status"] for n in nodes} <= {"OPEN", "PENDING"}
    assert [n["source"] for n in nodes] == sorted(
        (n["source"] for n in nodes), key=["ingest", "field"].index
    )  # config order, whatever the filter's order


async def test_one_failing_source_gives_partial_results_and_its_error() -> None:
    async with harness.gateway(retries=0) as gw:
        gw.faults["ingest"].add(Fault("GET", r".*/api/v1/ingest/jobs", "status", 503, times=-1))
        body = await gw.gql(SEARCH, {"first": 100})
    page = body["data"]["searchJobs"]
    [problem] = page["sourceErrors"]
    assert problem["source"] == "ingest" and problem["code"] == "UPSTREAM_UNAVAILABLE"
    assert problem["error"]["upstreamStatus"] == 503
    assert page["edges"] and not any(e["node"]["source"] == "ingest" for e in page["edges"])


async def test_dates_are_iso_8601_or_null() -> None:
    async with harness.gateway() as gw:
        body = await gw.gql(SEARCH, {"filter": {"sources": ["ingest", "hub"]}, "first": 50})
    nodes = [edge["node"] for edge in body["data"]["searchJobs"]["edges"]]
    ingest = [n for n in nodes if n["source"] == "ingest"]
    assert ingest and all(n["createdAt"] and n["updatedAt"] for n in ingest)
    assert all(n["createdAt"].endswith("+00:00") for n in ingest)
    assert all(n["createdAt"] is None for n in nodes if n["source"] == "hub")


async def test_bad_cursor_and_first_out_of_bounds_are_graphql_errors() -> None:
    async with harness.gateway(server=ServerSettings(max_page_size=30)) as gw:
        bad = await gw.gql(SEARCH, {"after": "bm90IGEgY3Vyc29y.AAAA"})
        big = await gw.gql(SEARCH, {"first": 31})
        zero = await gw.gql(SEARCH, {"first": 0})
        ok = await gw.gql(SEARCH, {"first": 30})
        calls = sum(sum(f.delivered.values()) for f in gw.faults.values())
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CURSOR"
    assert big["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert "between 1 and 30" in big["errors"][0]["message"]
    assert zero["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert len(ok["data"]["searchJobs"]["edges"]) == 30
    assert calls > 0


async def test_listing_off_skips_a_source_unless_it_is_named() -> None:
    async with harness.gateway(listing=False) as gw:
        quiet = await gw.gql(SEARCH, {})
        named = await gw.gql(SEARCH, {"filter": {"sources": ["hub", "nowhere"]}})
    assert quiet["data"]["searchJobs"]["edges"] == []
    errors = {e["source"]: e["code"] for e in named["data"]["searchJobs"]["sourceErrors"]}
    assert errors == {"hub": "UNSUPPORTED_ACTION", "nowhere": "NOT_FOUND"}


async def test_a_caller_limited_to_some_sources_lists_only_those() -> None:
    async with gateway() as gw:
        limited = await post(gw, SEARCH, {"x-api-key": INGEST_KEY}, {"first": 100})
        reader = await post(gw, SEARCH, {"x-api-key": READER_KEY}, {"first": 100})
        asked = await post(
            gw, SEARCH, {"x-api-key": INGEST_KEY}, {"filter": {"sources": ["hub", "ingest"]}}
        )
    nodes = [e["node"] for e in limited.json()["data"]["searchJobs"]["edges"]]
    assert nodes and {n["source"] for n in nodes} == {"ingest"}
    assert {e["node"]["source"] for e in reader.json()["data"]["searchJobs"]["edges"]} > {"ingest"}
    page = asked.json()["data"]["searchJobs"]
    assert [(e["source"], e["code"]) for e in page["sourceErrors"]] == [("hub", "FORBIDDEN")]
    assert {e["node"]["source"] for e in page["edges"]} == {"ingest"}
