"""Hostile input: every answer is a 4xx or an error payload; no 5xx, traceback or INTERNAL."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from jobgate.config import ServerSettings
from tests import harness
from tests.harness import Gateway

PREFLIGHT = {"x-jobgate-csrf": "1"}
DIGITS = "9" * 4301  # one more than Python's int() accepts from a string by default


def deep(levels: int) -> str:
    return "{" + "a{" * levels + "b" + "}" * levels + "}"


def fragment_bomb(n: int) -> str:
    """Each fragment spreads the next twice: 2**n paths for a walker that does not remember."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n))
    return "{ ...F0 } " + chain + f" fragment F{n} on Query {{ __typename }}"


def introspection_bomb() -> str:
    return "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"


UPDATE = 'mutation {{ updateJob(id: "field:1001", input: {{{}}}) {{ error {{ code }} }} }}'
FLOOD = (
    "mutation($f: [CustomFieldInput!]) "
    '{ updateJob(id: "field:1001", input: {customFields: $f}) { error { code } } }'
)
UNKNOWN_IDS = '{ jobs(ids: ["nosuch:1", "ingest:doesnotexist", "gis:", ":x", ""]) { id } }'

# (name, query, variables): documents a hostile client may send as JSON.
DOCUMENTS: list[tuple[str, str, Any]] = [
    ("deep unknown fields", deep(150), None),
    ("nested past the parser's limit", deep(300), None),
    ("aliases", "{ " + " ".join(f"a{i}: __typename" for i in range(100)) + " }", None),
    ("tokens", "{ " + "__typename " * 2000 + "}", None),
    ("directives", "{ " + "__typename @skip(if: false) " * 60 + "}", None),
    ("fragment bomb", fragment_bomb(40), None),
    ("fragment cycle", "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }", None),
    ("unknown fragment", "{ ...Unknown }", None),
    ("introspection bomb", introspection_bomb(), None),
    ("no operation", "fragment F on Query { __typename }", None),
    ("two anonymous operations", "{ __typename } { sources { name } }", None),
    ("subscription", "subscription { __typename }", None),
    ("syntax", "{ job(id: ", None),
    ("huge string literal", '{ job(id: "' + "x" * 90_000 + '") { id } }', None),
    ("Int literal of 4301 digits", UPDATE.format(f"plannedDuration: {DIGITS}"), None),
    ("negative Int literal", UPDATE.format(f"plannedDuration: -{DIGITS}"), None),
    ("ID as a 4301-digit Int", f"{{ job(id: {DIGITS}) {{ id }} }}", None),
    ("Float literal", f"{{ job(id: 1.{DIGITS}e99999) {{ id }} }}", None),
    ("Int past 32 bits", UPDATE.format("plannedDuration: 2147483648"), None),
    ("unknown ids", UNKNOWN_IDS, None),
    (
        "too many ids",
        "query($ids: [ID!]!) { jobs(ids: $ids) { id } }",
        {"ids": ["ingest:x"] * 5000},
    ),
    ("wrong variable types", "query($id: ID!) { job(id: $id) { id } }", {"id": {"a": [1, 2]}}),
    ("undeclared variables", "{ __typename }", {"x" * 1000: "y" * 10_000}),
    ("input flood", FLOOD, {"f": [{"id": "1", "value": "v"}] * 3000}),
]
CONTROL_IDS = ["ingest:\x00abc", "ingest:a\nb", "hub:../../admin", "ingest:%2e%2e", "gis:\u202eabc",
               "ingest:" + "\x7f" * 50, "field:1001?x=1", "ingest:a b", "é:x"]  # fmt: skip


def assert_clean(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text[:500]
    text = response.text
    for leak in ("Traceback", 'File "', "INTERNAL", "Exception", "jobgate/"):
        assert leak not in text, text[:500]


@pytest.mark.parametrize(("name", "query", "variables"), DOCUMENTS, ids=[d[0] for d in DOCUMENTS])
@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_hostile_documents(
    gw: Gateway, name: str, query: str, variables: Any, accept: str
) -> None:
    started = time.monotonic()
    response = await gw.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers={"accept": accept}
    )
    assert time.monotonic() - started < 3, f"{name} took too long"
    assert_clean(response)
    body = response.json()
    assert body.get("errors") or body.get("data"), body
    if body.get("data") is not None:
        # Executed: any error is a contract code in place (a lookup that failed).
        assert all(e["extensions"]["code"] for e in body.get("errors", ()))


async def test_limit_messages_name_the_limit(gw: Gateway) -> None:
    for query, words in [
        (deep(150), "depth"),
        (DOCUMENTS[2][1], "aliases"),
        (DOCUMENTS[4][1], "directives"),
        (DOCUMENTS[3][1], "tokens"),
        (introspection_bomb(), "introspection depth"),
        (DOCUMENTS[14][1], "number literal"),
    ]:
        body = (await gw.client.post("/graphql", json={"query": query})).json()
        assert "data" not in body
        assert any(words in e["message"].lower() for e in body["errors"]), (words, body)


@pytest.mark.parametrize("raw_id", CONTROL_IDS)
async def test_ids_with_control_characters_are_invalid_and_never_sent(
    gw: Gateway, raw_id: str
) -> None:
    query = "query($id: ID!) { job(id: $id) { id } }"
    response = await gw.client.post("/graphql", json={"query": query, "variables": {"id": raw_id}})
    assert_clean(response)
    body = response.json()
    assert body["data"] == {"job": None}
    assert body["errors"][0]["extensions"]["code"] == "INVALID_ID"
    assert sum(sum(f.delivered.values()) for f in gw.faults.values()) == 0
    mutation = "mutation($id: ID!) { abortJob(id: $id) { error { code } } }"
    answer = await gw.client.post("/graphql", json={"query": mutation, "variables": {"id": raw_id}})
    assert answer.json()["data"]["abortJob"]["error"]["code"] == "INVALID_ID"


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b"null", "application/json", 400),
        (b'"{ __typename }"', "application/json", 400),
        (b'[{"query": "{ __typename }"}]', "application/json", 400),  # no batching
        (b"[" * 100_001, "application/json", 413),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),  # nesting past orjson's limit
        (b'{"query": "{ __typename }", "variables": {"n": ' + DIGITS.encode() + b"}}", None, 400),
        (b'{"query": "{ __typename }", "variables": {"n": 1e400}}', None, 400),
        (b'{"query": "{ \xff\xfe }"}', "application/json", 400),  # not UTF-8
        (b'{"query": "\xed\xa0\x80"}', "application/json", 400),  # an encoded surrogate
        (
            b'{"query": "query($i: ID!) { job(id: $i) { id } }", "variables": {"i": "\\ud800"}}',
            None,
            400,
        ),  # a lone surrogate, escaped
        ('{"query": "{ __typename }"}'.encode("utf-16"), "application/json; charset=utf-16", 415),
        ('{"query": "{ __typename }"}'.encode("utf-16"), "application/json", 400),
        (b'{"query": "{ __typename }"}', "application/graphql", 415),
        (b"<query/>", "application/xml", 415),
        (b'{"query": "{ __typename }", "extensions": 1}', "application/json", 400),
        (b'{"query": "{ __typename }", "operationName": ["a"]}', "application/json", 400),
        (b'{"query": "{ __typename }"' + b' , "x": "' + b"y" * 200_000 + b'"}', None, 413),
    ],
)
async def test_hostile_bodies(
    gw: Gateway, content: bytes, content_type: str | None, status: int
) -> None:
    headers = {"content-type": content_type or "application/json", **PREFLIGHT}
    response = await gw.client.post("/graphql", content=content, headers=headers)
    assert response.status_code == status, response.text[:300]
    assert_clean(response)
    assert response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"query": "mutation { __typename }"}, 405),
        ({"query": "{ __typename }", "variables": "{not json"}, 400),
        ({"query": "{ __typename }", "variables": "[1]"}, 400),
        ({"query": "query($n: Int) { __typename }", "variables": f'{{"n": {DIGITS}}}'}, 400),
        ({"query": ""}, 400),
        ({"query": deep(150)}, 200),
        ({"query": "{ __typename }", "operationName": "Nope"}, 200),
    ],
)
async def test_hostile_get_requests(gw: Gateway, params: dict[str, str], status: int) -> None:
    response = await gw.client.get("/graphql", params=params, headers=PREFLIGHT)
    assert response.status_code == status, response.text[:300]
    assert_clean(response)


async def test_hostile_headers(gw: Gateway) -> None:
    response = await gw.client.post(
        "/graphql",
        json={"query": "{ __typename }"},
        headers={"x-request-id": "a\x01b" * 100, "accept": "image/png, text/\x7f"},
    )
    assert response.status_code == 406
    assert_clean(response)
    replaced = response.headers["x-request-id"]  # a fresh id, not the hostile one echoed
    assert "\x01" not in replaced and len(replaced) < 50


async def test_suggestions_are_hidden_with_introspection() -> None:
    typo = {"query": "{ sourcez { name } }"}
    async with harness.gateway() as gw:
        shown = (await gw.client.post("/graphql", json=typo)).json()["errors"][0]["message"]
        assert "Did you mean 'sources'?" in shown
    async with harness.gateway(server=ServerSettings(introspection=False)) as gw:
        for query in (
            typo,
            {"query": "mutation { manageJobs(action: CLOZE, ids: []) { results { id } } }"},
        ):
            body = (await gw.client.post("/graphql", json=query)).json()
            assert "Did you mean" not in str(body), body
            assert body["errors"][0]["message"]
        schema = await gw.client.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert "introspection" in schema.json()["errors"][0]["message"].lower()
