"""The guard around a tiny inline app: which answers are kept, and which release the key."""

from __future__ import annotations

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jobgate.config import ServerSettings
from jobgate.idempotency import IdempotencyGuard, MemoryStore

MUTATION = {"query": "mutation { m }"}


class Upstream:
    """Stands for the GraphQL endpoint: answers in turn from a script, counting calls."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def handle(self, request: Request) -> Response:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def graphql(data: object, status: int = 200, **error: object) -> Response:
    body: dict[str, object] = {"data": data}
    if error:
        body["errors"] = [error]
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@pytest.fixture
def server() -> ServerSettings:
    return ServerSettings(max_body_bytes=1000)


async def client_for(upstream: Upstream, server: ServerSettings) -> httpx.AsyncClient:
    guard = IdempotencyGuard(upstream.handle, server)
    app = Starlette(routes=[Route("/graphql", guard.handle, methods=["GET", "POST"])])
    app.state.idempotency = MemoryStore(ttl=60, lease=60, max_keys=10)
    # raise_app_exceptions=False: see the 500 a real server sends for an unexpected error.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://guard.test")


async def send(client: httpx.AsyncClient, key: str = "k") -> httpx.Response:
    return await client.post("/graphql", json=MUTATION, headers={"Idempotency-Key": key})


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("boom"),
        graphql(None, 503, message="overloaded"),
        graphql(None, 200, message="Variable '$id' was not provided."),
        graphql(None, 400, message="Cannot query field 'x'."),
    ],
)
async def test_attempts_that_did_not_run_release_the_key(
    server: ServerSettings, failure: Response | Exception
) -> None:
    upstream = Upstream(failure, graphql({"m": 1}))
    async with await client_for(upstream, server) as client:
        await send(client)
        retried = await send(client)
        assert retried.status_code == 200
        assert "idempotent-replayed" not in retried.headers
        assert upstream.calls == 2


@pytest.mark.parametrize(
    "kept",
    [
        graphql({"m": {"error": {"code": "OUTCOME_UNKNOWN"}}}),
        graphql(None, 200, message="Internal error", path=["m"]),
        graphql(None, 200, message="late", extensions={"code": "UPSTREAM_TIMEOUT"}),
        graphql(None, 504, message="late", extensions={"code": "UPSTREAM_TIMEOUT"}),
    ],
)
async def test_answers_of_a_run_are_kept(server: ServerSettings, kept: Response) -> None:
    upstream = Upstream(kept)
    async with await client_for(upstream, server) as client:
        first = await send(client)
        again = await send(client)
    assert again.headers["idempotent-replayed"] == "true"
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert upstream.calls == 1


async def test_oversized_and_non_json_bodies_pass_through_untouched(
    server: ServerSettings,
) -> None:
    big = {"query": "mutation { m }", "variables": {"pad": "x" * 2000}}
    calls = 0

    async def echo_size(request: Request) -> Response:
        nonlocal calls
        calls += 1
        return Response(str(len(await request.body())).encode())

    guard = IdempotencyGuard(echo_size, server)
    app = Starlette(routes=[Route("/graphql", guard.handle, methods=["POST"])])
    app.state.idempotency = MemoryStore(ttl=60, lease=60, max_keys=10)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://guard.test") as client:
        headers = {"Idempotency-Key": "k"}
        sent = orjson.dumps(big)
        response = await client.post("/graphql", content=sent, headers=headers)
        # The endpoint still reads the whole body (and answers 413 itself in the real app).
        assert response.text == str(len(sent))
        response = await client.post("/graphql", content=b"{not json", headers=headers)
        assert response.text == "9"
    assert calls == 2
