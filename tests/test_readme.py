"""Every GraphQL example in the README answers on the demo as the README says it does.

Each ```graphql block runs against a fresh demo. It must draw no GraphQL errors, and every
payload error code it shows must be announced in its comments, and only those.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jobgate.domain import ErrorCode
from tests import harness
from tests.live.support import live_gateway, ws_client

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(), flags=re.DOTALL)


def payload_errors(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        error = value.get("error")
        if isinstance(error, dict):
            yield error["code"]
        for child in value.values():
            yield from payload_errors(child)
    elif isinstance(value, list):
        for child in value:
            yield from payload_errors(child)


def test_readme_has_examples_for_every_mutation() -> None:
    text = "\n".join(BLOCKS)
    for name in [
        "cancelJob", "closeJob", "manageJobs", "setJobResult", "updateJob", "jobs(", "searchJobs",
    ]:  # fmt: skip
        assert name in text, name


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
async def test_readme_example_answers_on_the_demo(block: str) -> None:
    announced = {code.value for code in ErrorCode if code.value in block}
    if block.lstrip().startswith("subscription"):
        shown = await _first_updates(block)
        assert shown == announced, f"the README announces {announced}, the demo answers {shown}"
        return
    async with harness.gateway() as gw:
        if "<endCursor>" in block:  # the next page of the example before it
            before = await gw.gql(BLOCKS[BLOCKS.index(block) - 1])
            cursor = before["data"]["searchJobs"]["pageInfo"]["endCursor"]
            assert cursor, before
            block = block.replace("<endCursor>", cursor)
        body = await gw.gql(block)
    assert "errors" not in body, body["errors"]
    shown = set(payload_errors(body["data"]))
    assert shown == announced, f"the README announces {announced}, the demo answers {shown}"


async def _first_updates(block: str) -> set[str]:
    """A subscription example over a real WebSocket: the codes of each id's first update."""
    ids = re.findall(r'"([^"]+)"', block.split("ids:")[1].split("]")[0])
    async with live_gateway() as live, ws_client(live) as ws:
        assert (await ws.receive())["type"] == "connection_ack"
        await ws.send({"type": "subscribe", "id": "readme", "payload": {"query": block}})
        updates = await ws.updates(len(ids))
    assert {u["id"] for u in updates} == set(ids)
    return {u["error"]["code"] for u in updates if u.get("error")}
