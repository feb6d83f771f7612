"""The store contract, run against the in-memory store and a real Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio

from jobgate.web.idempotency import (
    Begun,
    InFlight,
    MemoryStore,
    Mismatch,
    RedisStore,
    Replay,
    StoredResponse,
    StoreUnavailable,
    scoped_key,
)
from tests.idempotency.conftest import StoreFactory, free_port

KEY = scoped_key("alice", "order-1")
ANSWER = StoredResponse(200, b'{"data": {"x": 1}}\n\x00\xff last line', "application/json")


def begun(outcome: object) -> Begun:
    assert isinstance(outcome, Begun), outcome
    return outcome


async def test_first_begin_claims_and_a_repeat_waits(make_store: StoreFactory) -> None:
    store = make_store()
    begun(await store.begin(KEY, "fp"))
    assert await store.begin(KEY, "fp") == InFlight()
    assert await store.begin(KEY, "other") == Mismatch()


async def test_finished_key_replays_the_exact_answer(make_store: StoreFactory) -> None:
    store = make_store()
    claim = begun(await store.begin(KEY, "fp"))
    await store.finish(KEY, claim, ANSWER)
    assert await store.begin(KEY, "fp") == Replay(ANSWER)
    assert await store.begin(KEY, "other") == Mismatch()


async def test_abandoned_key_can_be_claimed_again(make_store: StoreFactory) -> None:
    store = make_store()
    claim = begun(await store.begin(KEY, "fp"))
    await store.abandon(KEY, claim)
    begun(await store.begin(KEY, "fp"))


async def test_keys_are_independent_per_principal(make_store: StoreFactory) -> None:
    store = make_store()
    begun(await store.begin(scoped_key("alice", "k"), "fp-a"))
    begun(await store.begin(scoped_key("bob", "k"), "fp-b"))
    # ':' in a name cannot make two callers' keys meet.
    assert scoped_key("a:b", "c") != scoped_key("a", "b:c")


async def test_answer_expires_after_the_ttl(make_store: StoreFactory) -> None:
    store = make_store(ttl=0.2)
    claim = begun(await store.begin(KEY, "fp"))
    await store.finish(KEY, claim, ANSWER)
    assert isinstance(await store.begin(KEY, "fp"), Replay)
    await asyncio.sleep(0.35)
    begun(await store.begin(KEY, "other"))


async def test_a_late_first_attempt_does_not_clobber_the_next(make_store: StoreFactory) -> None:
    store = make_store(lease=0.2)
    first = begun(await store.begin(KEY, "fp"))
    await asyncio.sleep(0.35)  # the first attempt's lease runs out
    second = begun(await store.begin(KEY, "fp"))
    assert second.token != first.token
    await store.abandon(KEY, first)
    await store.finish(KEY, first, ANSWER)
    assert await store.begin(KEY, "fp") == InFlight()
    await store.finish(KEY, second, ANSWER)
    assert await store.begin(KEY, "fp") == Replay(ANSWER)


async def test_concurrent_first_requests_claim_once(make_store: StoreFactory) -> None:
    stores = [make_store(), make_store()]  # two Redis clients stand for two replicas
    if all(isinstance(s, MemoryStore) for s in stores):
        stores = [stores[0], stores[0]]  # memory is per process: one store, many tasks
    outcomes = await asyncio.gather(*(stores[i % 2].begin(KEY, "fp") for i in range(20)))
    assert sum(isinstance(o, Begun) for o in outcomes) == 1
    assert sum(isinstance(o, InFlight) for o in outcomes) == 19


async def test_memory_store_is_bounded() -> None:
    store = MemoryStore(ttl=60, lease=60, max_keys=2)
    for key in ("a", "b", "c"):
        claim = begun(await store.begin(key, "fp"))
        await store.finish(key, claim, ANSWER)
    assert len(store) == 2
    begun(await store.begin("a", "fp"))  # the oldest was dropped
    assert isinstance(await store.begin("c", "fp"), Replay)


async def test_memory_store_ttl_follows_its_clock() -> None:
    now = [1000.0]
    store = MemoryStore(ttl=10, lease=5, max_keys=10, clock=lambda: now[0])
    claim = begun(await store.begin(KEY, "fp"))
    now[0] += 4
    assert await store.begin(KEY, "fp") == InFlight()
    await store.finish(KEY, claim, ANSWER)
    now[0] += 9.9  # the TTL counts from the answer, not from the first request
    assert isinstance(await store.begin(KEY, "fp"), Replay)
    now[0] += 0.2
    begun(await store.begin(KEY, "fp"))


async def test_redis_layout_and_expiry(redis_url: str) -> None:
    store = RedisStore.from_url(redis_url, ttl=3600, lease=90)
    client = redis.asyncio.Redis.from_url(redis_url)
    try:
        claim = begun(await store.begin(scoped_key("svc:a", "k:1"), "fp"))
        name = "jobgate:idem:svc%3Aa:k:1"
        # A running request's record lives as long as an answer would: when its lease (90 s)
        # is over without one, the next request resumes it rather than starting afresh.
        assert 3_590_000 < await client.pttl(name) <= 3_600_000
        record = await client.get(name)
        assert record is not None and record.startswith(b"running\nfp\n")
        await store.finish(scoped_key("svc:a", "k:1"), claim, ANSWER)
        assert 3_590_000 < await client.pttl(name) <= 3_600_000
        assert (await client.get(name) or b"").startswith(b"done\nfp\n1\n")
    finally:
        await client.aclose()
        await store.aclose()


async def test_unreachable_redis_is_an_error_without_the_password() -> None:
    url = f"redis://user:s3cret-pw@127.0.0.1:{free_port()}/0"
    store = RedisStore.from_url(url, ttl=60, lease=60)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await store.begin(KEY, "fp")
        assert "s3cret-pw" not in str(raised.value)
        assert "s3cret-pw" not in store.describe()
        assert store.describe().startswith("redis://user:***@127.0.0.1:")
    finally:
        await store.aclose()


async def test_memory_store_is_bounded_by_the_bytes_it_keeps() -> None:
    # Each answered key costs its key, its body and ~500 bytes of bookkeeping: 602 here.
    store = MemoryStore(ttl=60, lease=60, max_keys=1000, max_bytes=2000)
    for n in range(10):
        claim = begun(await store.begin(f"k{n}", "fp"))
        await store.finish(f"k{n}", claim, StoredResponse(200, b"x" * 100, "application/json"))
    assert len(store) == 3, "the oldest answers go once their bytes pass max_bytes"
    assert isinstance(await store.begin("k9", "fp"), Replay)
    assert isinstance(await store.begin("k0", "fp"), Begun)
