"""The ``[auth]`` table: API keys (as sha256 digests) and a JWT verifier, validated at startup.

Plain keys and secrets never stay in these objects longer than it takes to hash or load them,
and none of them has a ``repr`` that shows one.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from jobgate.domain.principal import READ, WRITE

SCOPES = frozenset({READ, WRITE})
ALGORITHMS = ("HS256", "RS256")
MIN_KEY_LENGTH = 16  # a plain API key shorter than this is guessable
MIN_HS256_SECRET = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

# expand(value, key) -> value with ${VAR} taken from the environment (config.py's rule).
Expand = Callable[[Any, str], Any]


class AuthConfigError(Exception):
    """A mistake in ``[auth]``; config.py turns it into a ConfigError naming the file."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class ApiKeySettings:
    name: str
    sha256: bytes = field(repr=False)  # the digest of the key, never the key
    scopes: frozenset[str]
    sources: frozenset[str] | None = None  # None: every source


@dataclass(frozen=True, slots=True)
class JwtSettings:
    algorithm: str
    key: str | RSAPublicKey = field(repr=False)  # HS256 secret or RS256 public key
    issuer: str | None = None
    audience: str | None = None
    scopes_claim: str = "scope"
    sources_claim: str | None = None
    name_claim: str = "sub"
    leeway: float = 30.0


@dataclass(frozen=True, slots=True)
class AuthSettings:
    api_keys: tuple[ApiKeySettings, ...] = ()
    jwt: JwtSettings | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.api_keys) or self.jwt is not None


def parse_auth(table: Mapping[str, Any], expand: Expand, sources: Collection[str]) -> AuthSettings:
    unknown = set(table) - {"api_keys", "jwt"}
    if unknown:
        raise AuthConfigError(f"[auth] {sorted(unknown)[0]}", "unknown key (use api_keys, jwt)")
    entries = table.get("api_keys", [])
    if not isinstance(entries, list):
        raise AuthConfigError("[auth] api_keys", "must be an array of tables ([[auth.api_keys]])")
    keys = tuple(_api_key(i, entry, expand, sources) for i, entry in enumerate(entries))
    names: set[str] = set()
    digests: set[bytes] = set()
    for key in keys:  # the later of two entries is the mistake
        where = f"[[auth.api_keys]] {key.name!r}"
        if key.name in names:
            raise AuthConfigError(where, "the name is used twice")
        if key.sha256 in digests:
            raise AuthConfigError(where, "the same key is listed twice")
        names.add(key.name)
        digests.add(key.sha256)
    jwt_table = table.get("jwt")
    if jwt_table is not None and not isinstance(jwt_table, dict):
        raise AuthConfigError("[auth] jwt", "must be a table ([auth.jwt])")
    jwt = _jwt(jwt_table, expand) if jwt_table is not None else None
    if not keys and jwt is None:
        raise AuthConfigError(
            "[auth]", "configure [[auth.api_keys]] or [auth.jwt] (or drop [auth])"
        )
    return AuthSettings(api_keys=keys, jwt=jwt)


def _api_key(index: int, entry: Any, expand: Expand, sources: Collection[str]) -> ApiKeySettings:
    where = f"[[auth.api_keys]] #{index + 1}"
    if not isinstance(entry, dict):
        raise AuthConfigError(where, "must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AuthConfigError(f"{where} name", "is missing (a label for logs)")
    where = f"[[auth.api_keys]] {name!r}"
    unknown = set(entry) - {"name", "sha256", "key", "scopes", "sources"}
    if unknown:
        raise AuthConfigError(f"{where} {sorted(unknown)[0]}", "unknown key")
    if ("sha256" in entry) == ("key" in entry):
        raise AuthConfigError(where, "give exactly one of sha256 (hex digest) and key")
    if "sha256" in entry:
        hex_digest = expand(entry["sha256"], f"{where} sha256")
        if not isinstance(hex_digest, str) or not _SHA256_HEX.fullmatch(hex_digest):
            raise AuthConfigError(f"{where} sha256", "must be 64 hex digits (sha256 of the key)")
        digest = bytes.fromhex(hex_digest)
    else:
        plain = expand(entry["key"], f"{where} key")
        if not isinstance(plain, str) or len(plain) < MIN_KEY_LENGTH:
            # Never echo the value: it is the secret.
            raise AuthConfigError(f"{where} key", f"must be at least {MIN_KEY_LENGTH} characters")
        digest = hashlib.sha256(plain.encode()).digest()
    scopes = _scopes(entry.get("scopes"), f"{where} scopes")
    allowed = _sources(entry.get("sources"), f"{where} sources", sources)
    return ApiKeySettings(name=name, sha256=digest, scopes=scopes, sources=allowed)


def _strings(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise AuthConfigError(key, "must be a list of strings")
    return list(value)


def _scopes(value: Any, key: str) -> frozenset[str]:
    if value is None:
        raise AuthConfigError(key, f"is missing (use {sorted(SCOPES)})")
    scopes = _strings(value, key)
    unknown = set(scopes) - SCOPES
    if unknown:
        raise AuthConfigError(key, f"unknown scope {sorted(unknown)[0]!r} (use {sorted(SCOPES)})")
    if not scopes:
        raise AuthConfigError(key, "must name at least one scope")
    return frozenset(scopes)


def _sources(value: Any, key: str, configured: Collection[str]) -> frozenset[str] | None:
    if value is None:
        return None
    names = _strings(value, key)
    for name in names:
        if name not in configured:
            raise AuthConfigError(key, f"names unknown source {name!r}")
    return frozenset(names)


_JWT_KEYS = {
    "algorithm",
    "secret",
    "public_key_file",
    "public_key",
    "issuer",
    "audience",
    "scopes_claim",
    "sources_claim",
    "name_claim",
    "leeway",
}


def _jwt(table: dict[str, Any], expand: Expand) -> JwtSettings:
    unknown = set(table) - _JWT_KEYS
    if unknown:
        raise AuthConfigError(f"[auth.jwt] {sorted(unknown)[0]}", "unknown key")
    values = {k: expand(v, f"[auth.jwt] {k}") for k, v in table.items()}
    algorithm = values.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise AuthConfigError("[auth.jwt] algorithm", f"must be one of {', '.join(ALGORITHMS)}")
    key: str | RSAPublicKey
    if algorithm == "HS256":
        if "public_key_file" in values or "public_key" in values:
            raise AuthConfigError("[auth.jwt] public_key_file", "HS256 takes secret, not a key")
        secret = values.get("secret")
        if not isinstance(secret, str) or len(secret.encode()) < MIN_HS256_SECRET:
            raise AuthConfigError(
                "[auth.jwt] secret", f"HS256 needs a secret of at least {MIN_HS256_SECRET} bytes"
            )
        key = secret
    else:
        if "secret" in values:
            raise AuthConfigError("[auth.jwt] secret", "RS256 takes public_key_file, not a secret")
        key = _public_key(values)
    optional: dict[str, Any] = {}
    for name in ("issuer", "audience", "scopes_claim", "sources_claim", "name_claim"):
        if name in values:
            if not isinstance(values[name], str) or not values[name]:
                raise AuthConfigError(f"[auth.jwt] {name}", "must be a non-empty string")
            optional[name] = values[name]
    if "leeway" in values:
        leeway = values["leeway"]
        if (
            isinstance(leeway, bool)
            or not isinstance(leeway, int | float)
            or not 0 <= leeway <= 300
        ):
            raise AuthConfigError("[auth.jwt] leeway", "must be a number of seconds from 0 to 300")
        optional["leeway"] = float(leeway)
    return JwtSettings(algorithm=algorithm, key=key, **optional)


def _public_key(values: dict[str, Any]) -> RSAPublicKey:
    if ("public_key_file" in values) == ("public_key" in values):
        raise AuthConfigError("[auth.jwt] public_key_file", "RS256 needs public_key_file (PEM)")
    if "public_key_file" in values:
        where = "[auth.jwt] public_key_file"
        path = values["public_key_file"]
        if not isinstance(path, str) or not path:
            raise AuthConfigError(where, "must be a file path")
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise AuthConfigError(where, f"cannot read {path} ({exc.strerror or exc})") from None
    else:
        where = "[auth.jwt] public_key"
        if not isinstance(values["public_key"], str):
            raise AuthConfigError(where, "must be a PEM string")
        pem = values["public_key"].encode()
    try:
        loaded = load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise AuthConfigError(where, "is not a PEM public key") from None
    if not isinstance(loaded, RSAPublicKey):
        raise AuthConfigError(where, "must be an RSA public key for RS256")
    return loaded
