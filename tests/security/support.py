"""A gateway over the simulators with ``[auth]`` settings, and credentials to call it with."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jobgate.config import ServerSettings
from jobgate.config.auth import ApiKeySettings, AuthSettings, JwtSettings
from tests import harness

READER_KEY = "reader-key-0123456789abcdef"
WRITER_KEY = "writer-key-0123456789abcdef"
INGEST_KEY = "ingest-only-0123456789abcdef"
WRITE_ONLY_KEY = "write-only-0123456789abcdef"
HS_SECRET = "an-hs256-secret-of-at-least-32-bytes!!"
AUDIENCE = "jobgate"
ISSUER = "https://idp.test"

OPEN_INGEST = "ingest:7505e000001NLkPAAW"  # a Data Cloud job in state Open
HUB_JOB = "hub:6160"


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def api_keys() -> tuple[ApiKeySettings, ...]:
    return (
        ApiKeySettings("reader", digest(READER_KEY), frozenset({"jobs:read"})),
        ApiKeySettings("writer", digest(WRITER_KEY), frozenset({"jobs:read", "jobs:write"})),
        ApiKeySettings(
            "ingest-ops",
            digest(INGEST_KEY),
            frozenset({"jobs:read", "jobs:write"}),
            frozenset({"ingest"}),
        ),
        ApiKeySettings("write-only", digest(WRITE_ONLY_KEY), frozenset({"jobs:write"})),
    )


RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey = RSA_KEY) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def hs256() -> JwtSettings:
    return JwtSettings(
        "HS256", HS_SECRET, issuer=ISSUER, audience=AUDIENCE, sources_claim="jobgate_sources"
    )


def rs256() -> JwtSettings:
    return JwtSettings("RS256", RSA_KEY.public_key(), audience=AUDIENCE)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "svc-42",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "scope": "jobs:read jobs:write",
        "jobgate_sources": ["ingest", "hub", "field", "gis"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs_token(**overrides: Any) -> str:
    return jwt.encode(claims(**overrides), HS_SECRET, algorithm="HS256")


def rs_token(key: rsa.RSAPrivateKey = RSA_KEY, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256")


def bearer(credential: str) -> dict[str, str]:
    return {"authorization": f"Bearer {credential}"}


@contextlib.asynccontextmanager
async def gateway(
    auth: AuthSettings | None = None, server: ServerSettings | None = None
) -> AsyncIterator[harness.Gateway]:
    """Like ``harness.gateway`` (every simulator, seeded), with ``[auth]`` configured."""
    auth = auth or AuthSettings(api_keys=api_keys(), jwt=hs256())
    async with harness.gateway(server=server, auth=auth) as gw:
        yield gw


async def post(
    gw: harness.Gateway, query: str, headers: dict[str, str], variables: Any = None
) -> httpx.Response:
    return await gw.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


def upstream_calls(gw: harness.Gateway) -> int:
    return sum(sum(f.delivered.values()) for f in gw.faults.values())
