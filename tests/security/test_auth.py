"""Client authentication and authorization: API keys, JWTs, scopes, source restrictions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging

import jwt
import pytest

from jobgate.config import parse_settings
from jobgate.config.auth import AuthSettings
from tests.security.support import (
    HUB_JOB,
    INGEST_KEY,
    OPEN_INGEST,
    OTHER_RSA_KEY,
    READER_KEY,
    WRITE_ONLY_KEY,
    WRITER_KEY,
    api_keys,
    bearer,
    claims,
    gateway,
    hs_token,
    post,
    public_pem,
    rs256,
    rs_token,
    upstream_calls,
)

READ = f'{{ job(id: "{OPEN_INGEST}") {{ id status }} }}'
ABORT = "mutation($id: ID!) { abortJob(id: $id) { job { id status } error { code message } } }"


async def test_no_credential_is_401_with_a_challenge() -> None:
    async with gateway() as gw:
        response = await post(gw, READ, {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="jobgate"'
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": READER_KEY},
        bearer(READER_KEY),
        {"authorization": f"bearer   {READER_KEY}  "},  # scheme case and spaces do not matter
    ],
)
async def test_api_key_in_either_header(headers: dict[str, str]) -> None:
    async with gateway() as gw:
        response = await post(gw, READ, headers)
    assert response.status_code == 200
    assert response.json()["data"]["job"]["status"] == "OPEN"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": "not-a-key-0123456789"},
        bearer("not-a-key-0123456789"),
        bearer(READER_KEY[:-1]),
        {"authorization": f"Basic {READER_KEY}"},
        {"authorization": "Bearer "},
        {"x-api-key": READER_KEY, "authorization": f"Bearer {READER_KEY}"},  # two credentials
        bearer("x" * 10_000),
    ],
)
async def test_bad_credentials_are_401(headers: dict[str, str]) -> None:
    async with gateway() as gw:
        response = await post(gw, READ, headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="jobgate", error=')
    assert upstream_calls(gw) == 0


def test_a_key_from_the_environment_works_like_a_hashed_one() -> None:
    data = {
        "sources": {
            "ingest": {"provider": "data-cloud", "base_url": "https://x.test", "token": "t"}
        },
        "auth": {"api_keys": [{"name": "env", "key": "${DASH_KEY}", "scopes": ["jobs:read"]}]},
    }
    settings = parse_settings(data, "jobgate.toml", {"DASH_KEY": READER_KEY})
    [key] = settings.auth.api_keys
    assert key.sha256 == api_keys()[0].sha256
    assert READER_KEY not in repr(settings)


async def test_scopes_reads_and_writes() -> None:
    async with gateway() as gw:
        refused = await post(gw, ABORT, {"x-api-key": READER_KEY}, {"id": OPEN_INGEST})
        assert refused.status_code == 403
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert (
            'error="insufficient_scope", scope="jobs:write"' in refused.headers["www-authenticate"]
        )
        assert upstream_calls(gw) == 0
        assert gw.store("ingest").jobs["7505e000001NLkPAAW"]["state"] == "Open"
        # A write-only key may write but not read.
        assert (await post(gw, READ, {"x-api-key": WRITE_ONLY_KEY})).status_code == 403
        written = await post(gw, ABORT, {"x-api-key": WRITE_ONLY_KEY}, {"id": OPEN_INGEST})
        assert written.json()["data"]["abortJob"]["job"]["status"] == "ABORTED"
        # The writer does both.
        assert (await post(gw, READ, {"x-api-key": WRITER_KEY})).status_code == 200


async def test_source_restricted_queries() -> None:
    query = (
        f'{{ jobs(ids: ["{OPEN_INGEST}", "{HUB_JOB}", "nosuch:1"]) {{ id }} sources {{ name }} }}'
    )
    async with gateway() as gw:
        response = await post(gw, query, {"x-api-key": INGEST_KEY})
        body = response.json()
        assert response.status_code == 200
        assert body["data"]["jobs"] == [{"id": OPEN_INGEST}, None, None]
        assert body["data"]["sources"] == [{"name": "ingest"}]
        codes = {tuple(e["path"]): e["extensions"]["code"] for e in body["errors"]}
        # Another configured source and an unknown one answer alike: no probing for names.
        assert codes == {("jobs", 1): "FORBIDDEN", ("jobs", 2): "FORBIDDEN"}
        assert gw.faults["hub"].calls("GET") == 0
        single = (await post(gw, f'{{ job(id: "{HUB_JOB}") {{ id }} }}', bearer(INGEST_KEY))).json()
        assert single["data"] == {"job": None}
        assert single["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_source_restricted_mutations_send_nothing_upstream() -> None:
    cancel = "mutation($id: ID!) { cancelJob(id: $id) { job { id } error { code } } }"
    manage = (
        "mutation($ids: [ID!]!) { manageJobs(action: CLOSE, ids: $ids) "
        "{ results { id error { code } } } }"
    )
    async with gateway() as gw:
        body = (await post(gw, cancel, {"x-api-key": INGEST_KEY}, {"id": HUB_JOB})).json()
        assert body["data"]["cancelJob"] == {"job": None, "error": {"code": "FORBIDDEN"}}
        results = (
            await post(gw, manage, {"x-api-key": INGEST_KEY}, {"ids": ["gis:j1Xo9", "gis:j2Pq4"]})
        ).json()["data"]["manageJobs"]["results"]
        assert [r["error"]["code"] for r in results] == ["FORBIDDEN", "FORBIDDEN"]
        assert upstream_calls(gw) == 0
        # Its own source works as usual.
        own = (await post(gw, ABORT, {"x-api-key": INGEST_KEY}, {"id": OPEN_INGEST})).json()
        assert own["data"]["abortJob"]["job"]["status"] == "ABORTED"


async def test_jwt_hs256() -> None:
    async with gateway() as gw:
        ok = await post(gw, READ, bearer(hs_token()))
        assert ok.status_code == 200 and ok.json()["data"]["job"]["id"] == OPEN_INGEST
        read_only = await post(gw, ABORT, bearer(hs_token(scope="jobs:read")), {"id": OPEN_INGEST})
        assert read_only.status_code == 403
        as_list = await post(gw, READ, bearer(hs_token(scope=["jobs:read"])))
        assert as_list.status_code == 200
        restricted = await post(gw, "{ sources { name } }", bearer(hs_token(jobgate_sources="gis")))
        assert restricted.json()["data"]["sources"] == [{"name": "gis"}]
        # The sources claim is configured: a token without it reaches no source (fails closed).
        unclaimed = await post(gw, "{ sources { name } }", bearer(hs_token(jobgate_sources=None)))
        assert unclaimed.json()["data"]["sources"] == []


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (hs_token(exp=1_000_000), "expired"),
        (hs_token(nbf=4_000_000_000), "not valid yet"),
        (hs_token(aud="someone-else"), "audience"),
        (hs_token(iss="https://evil.test"), "issuer"),
        (hs_token(exp=None), "lacks the 'exp' claim"),
        (hs_token(aud=None), "lacks the 'aud' claim"),
        (hs_token(iss=None), "lacks the 'iss' claim"),
        (jwt.encode(claims(), "another-secret-that-is-32-bytes-long!", algorithm="HS256"), "sign"),
        (hs_token()[:-4] + "AAAA", "sign"),
        ("a.b.c", "malformed"),
    ],
)
async def test_jwt_refusals(token: str, reason: str) -> None:
    async with gateway() as gw:
        response = await post(gw, READ, bearer(token))
    assert response.status_code == 401
    assert reason in response.json()["errors"][0]["message"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_jwt_alg_none_and_algorithm_confusion_are_refused() -> None:
    unsigned = jwt.encode(claims(), key=None, algorithm="none")
    async with gateway() as gw:
        assert (await post(gw, READ, bearer(unsigned))).status_code == 401
    # An RS256 gateway must not take an HS256 token "signed" with its (public) key as secret.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    signing_input = f"{header}.{_b64(json.dumps(claims()).encode())}"
    signature = hmac.new(public_pem(), signing_input.encode(), hashlib.sha256).digest()
    async with gateway(AuthSettings(jwt=rs256())) as gw:
        forged = f"{signing_input}.{_b64(signature)}"
        assert (await post(gw, READ, bearer(forged))).status_code == 401


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_jwt_rs256() -> None:
    async with gateway(AuthSettings(jwt=rs256())) as gw:
        ok = await post(gw, READ, bearer(rs_token()))
        assert ok.status_code == 200, ok.text
        # No sources claim configured: every source.
        sources = (await post(gw, "{ sources { name } }", bearer(rs_token()))).json()
        assert len(sources["data"]["sources"]) == 4
        wrong_key = await post(gw, READ, bearer(rs_token(OTHER_RSA_KEY)))
        assert wrong_key.status_code == 401
        expired = await post(gw, READ, bearer(rs_token(exp=1_000_000)))
        assert expired.status_code == 401
        # API keys are not configured here: a key-looking credential is refused.
        assert (await post(gw, READ, bearer(READER_KEY))).status_code == 401


async def test_graphiql_page_and_health_need_no_credential() -> None:
    async with gateway() as gw:
        page = await gw.client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()
        assert (await gw.client.get("/healthz")).status_code == 200
        # Asking for a query the same way is not a page: it needs a credential.
        sneaky = await gw.client.get(
            "/graphql", params={"query": "{ sources { name } }"}, headers={"accept": "text/html"}
        )
        assert sneaky.status_code == 401


async def test_credentials_never_reach_a_response_or_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = [READER_KEY, WRITER_KEY, INGEST_KEY, hs_token(), "wrong-key-0123456789abcdef"]
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    async with gateway() as gw:
        for secret in secrets:
            for headers in (bearer(secret), {"x-api-key": secret}):
                for query in (READ, "{ nope }", "{", ABORT):
                    response = await post(gw, query, headers, {"id": "x"})
                    texts.append(response.text)
                    texts.append(str(response.headers))
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    for secret in secrets:
        assert all(secret not in text for text in texts)
        assert secret not in logged
