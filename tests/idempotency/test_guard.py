"""The guard on its own: which answers are kept, which release the key, which are resumed."""

from __future__ import annotations

import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from graphql import parse
from jobgate.domain.principal import ANONYMOUS
from jobgate.web.idempotency import IdempotencyGuard, MemoryStore

DOCUMENT = parse("mutation { m }")


class Endpoint:
    """Stands for the endpoint's execution: answers in turn from a script, noting each run."""

    def __init__(self, *answers: Response | Exception) -> None:
        self.answers = list(answers)
        self.runs: list[bool] = []  # whether each run was told to resume

    async def execute(self, resuming: bool) -> Response:
        self.runs.append(resuming)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def graphql(data: object, status: int = 200, **error: object) -> Response:
    body: dict[str, object] = {"data": data}
    if error:
        body["errors"] = [error]
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def keyed(key: str = "k") -> Request:
    scope = {"type": "http", "method": "POST", "headers": [(b"idempotency-key", key.encode())]}
    return Request(scope)


async def send(
    guard: IdempotencyGuard, store: MemoryStore, endpoint: Endpoint, key: str = "k"
) -> Response:
    return await guard.run(
        keyed(key),
        store=store,
        principal=ANONYMOUS,
        operation_name=None,
        document=DOCUMENT,
        variables=None,
        execute=endpoint.execute,
    )


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(ttl=60, lease=60, max_keys=10)


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
    store: MemoryStore, failure: Response | Exception
) -> None:
    endpoint = Endpoint(failure, graphql({"m": 1}))
    guard = IdempotencyGuard()
    if isinstance(failure, Exception):
        with pytest.raises(RuntimeError):
            await send(guard, store, endpoint)
    else:
        await send(guard, store, endpoint)
    retried = await send(guard, store, endpoint)
    assert retried.status_code == 200
    assert "idempotent-replayed" not in retried.headers
    assert endpoint.runs == [False, False], "a key nothing ran under is free again"


@pytest.mark.parametrize(
    "kept",
    [
        graphql({"m": {"job": {"id": "a:1"}, "error": None}}),
        graphql({"m": {"error": {"code": "INVALID_STATE"}}}),
        graphql(None, 200, message="Internal error", path=["m"]),
    ],
)
async def test_settled_answers_are_replayed(store: MemoryStore, kept: Response) -> None:
    endpoint = Endpoint(kept)
    guard = IdempotencyGuard()
    first = await send(guard, store, endpoint)
    again = await send(guard, store, endpoint)
    assert again.headers["idempotent-replayed"] == "true"
    assert (again.status_code, again.body) == (first.status_code, first.body)
    assert endpoint.runs == [False]


@pytest.mark.parametrize(
    "unsettled",
    [
        graphql({"m": {"error": {"code": "OUTCOME_UNKNOWN"}}}),
        graphql(None, 200, message="late", extensions={"code": "UPSTREAM_TIMEOUT"}),
        graphql(None, 504, message="late", extensions={"code": "UPSTREAM_TIMEOUT"}),
    ],
)
async def test_answers_that_leave_the_outcome_open_are_resumed_not_replayed(
    store: MemoryStore, unsettled: Response
) -> None:
    """OUTCOME_UNKNOWN (or the request's deadline) replayed forever would keep the caller in
    the dark: the next request with the key runs again, told to read before it writes."""
    settled = graphql({"m": {"job": {"id": "a:1"}, "error": None}})
    endpoint = Endpoint(unsettled, settled)
    guard = IdempotencyGuard()
    await send(guard, store, endpoint)
    second = await send(guard, store, endpoint)
    third = await send(guard, store, endpoint)
    assert endpoint.runs == [False, True], "the retry resumed; then the settled answer is kept"
    assert "idempotent-replayed" not in second.headers
    assert third.headers["idempotent-replayed"] == "true" and third.body == second.body


async def test_a_key_whose_request_died_is_resumed_once_its_lease_is_over() -> None:
    now = [0.0]
    store = MemoryStore(ttl=60, lease=5, max_keys=10, clock=lambda: now[0])
    begun = await store.begin("k", "fp")  # a request that will never finish: its process died
    assert not getattr(begun, "resume", True)
    assert type(await store.begin("k", "fp")).__name__ == "InFlight"
    now[0] = 5.0
    resumed = await store.begin("k", "fp")
    assert getattr(resumed, "resume", False) is True
    await store.abandon("k", resumed)  # the resumed attempt also produced nothing
    again = await store.begin("k", "fp")
    assert getattr(again, "resume", False) is True, "still resumable: nobody knows what happened"
