"""``[server] fast_paths = false`` and ``document_cache = false``: the libraries' own paths
give the same answers (the switch for an upgrade that breaks jobgate.internals)."""

from __future__ import annotations

from dataclasses import replace

from jobgate.config import ServerSettings
from jobgate.graphql.execution import LookupAwareExecutor
from tests import harness

QUERY = """{
  sources { name provider healthy }
  jobs(ids: ["ingest:7505e000001NLkPAAW", "hub:6168", "ingest:nope", "bad"]) {
    id provider status allowedActions details { __typename }
  }
}"""
MUTATION = (
    'mutation { closeJob(id: "ingest:7505e000001NLkPAAW") { job { status } error { code } } }'
)


async def answers(server: ServerSettings) -> list[dict[str, object]]:
    async with harness.gateway(server=server) as gw:
        executor = gw.app.state.endpoint.executor
        fast = executor.executor_class is LookupAwareExecutor
        assert fast is server.fast_paths and executor.cache_documents is server.document_cache
        return [await gw.gql(QUERY), await gw.gql(QUERY), await gw.gql(MUTATION)]


async def test_the_public_paths_answer_the_same() -> None:
    shipped = await answers(ServerSettings())
    public = await answers(replace(ServerSettings(), fast_paths=False, document_cache=False))
    assert public == shipped
    assert shipped[2]["data"] == {"closeJob": {"job": {"status": "QUEUED"}, "error": None}}
