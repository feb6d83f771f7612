"""The ``[auth]`` table: what it accepts, and one-line errors naming the key otherwise."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from jobgate import cli
from jobgate.config import ConfigError, load_settings, parse_settings
from tests.security.support import OTHER_RSA_KEY, public_pem

SOURCES = {"ingest": {"provider": "data-cloud", "base_url": "https://x.test", "token": "t"}}
KEY = "dashboard-key-0123456789"
SHA = hashlib.sha256(KEY.encode()).hexdigest()


def parse(auth: Any, environ: dict[str, str] | None = None) -> Any:
    return parse_settings({"sources": SOURCES, "auth": auth}, "gw.toml", environ or {}).auth


def test_the_issue_example(tmp_path: Path) -> None:
    pem = tmp_path / "jwt.pem"
    pem.write_bytes(public_pem())
    auth = parse(
        {
            "api_keys": [
                {"name": "ops", "sha256": SHA, "scopes": ["jobs:read"], "sources": ["ingest"]},
                {"name": "ci", "key": "${CI_KEY}", "scopes": ["jobs:read", "jobs:write"]},
            ],
            "jwt": {
                "algorithm": "RS256",
                "public_key_file": str(pem),
                "issuer": "https://idp.example.com",
                "audience": "jobgate",
                "scopes_claim": "scope",
                "sources_claim": "jobgate_sources",
            },
        },
        {"CI_KEY": "ci-key-from-the-environment"},
    )
    ops, ci = auth.api_keys
    assert ops.sha256 == bytes.fromhex(SHA) and ops.sources == frozenset({"ingest"})
    assert ci.sources is None and ci.scopes == frozenset({"jobs:read", "jobs:write"})
    assert auth.jwt.algorithm == "RS256" and auth.jwt.leeway == 30
    assert "ci-key-from-the-environment" not in repr(auth)
    assert auth.enabled


def test_no_auth_table_is_an_open_gateway() -> None:
    settings = parse_settings({"sources": SOURCES}, "gw.toml", {})
    assert not settings.auth.enabled


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({}, "gw.toml: [auth]: configure [[auth.api_keys]] or [auth.jwt]"),
        ({"users": []}, "gw.toml: [auth] users: unknown key"),
        ({"api_keys": {}}, "gw.toml: [auth] api_keys: must be an array of tables"),
        ({"api_keys": [{"sha256": SHA, "scopes": ["jobs:read"]}]}, "#1 name: is missing"),
        ({"api_keys": [{"name": "a", "scopes": ["jobs:read"]}]}, "'a': give exactly one of"),
        (
            {"api_keys": [{"name": "a", "sha256": "abc", "scopes": ["jobs:read"]}]},
            "[[auth.api_keys]] 'a' sha256: must be 64 hex digits",
        ),
        (
            {"api_keys": [{"name": "a", "key": "short", "scopes": ["jobs:read"]}]},
            "'a' key: must be at least 16 characters",
        ),
        (
            {"api_keys": [{"name": "a", "key": "${NOPE}", "scopes": ["jobs:read"]}]},
            "environment variable NOPE is not set",
        ),
        ({"api_keys": [{"name": "a", "sha256": SHA}]}, "'a' scopes: is missing"),
        (
            {"api_keys": [{"name": "a", "sha256": SHA, "scopes": ["admin"]}]},
            "'a' scopes: unknown scope 'admin'",
        ),
        (
            {"api_keys": [{"name": "a", "sha256": SHA, "scopes": ["jobs:read"], "sources": ["x"]}]},
            "'a' sources: names unknown source 'x'",
        ),
        (
            {"api_keys": [{"name": "a", "sha256": SHA, "scopes": ["jobs:read"], "role": "x"}]},
            "'a' role: unknown key",
        ),
        (
            {
                "api_keys": [
                    {"name": "a", "sha256": SHA, "scopes": ["jobs:read"]},
                    {"name": "b", "key": KEY, "scopes": ["jobs:read"]},
                ]
            },
            "'b': the same key is listed twice",
        ),
        ({"jwt": {"algorithm": "none"}}, "[auth.jwt] algorithm: must be one of HS256, RS256"),
        ({"jwt": {"algorithm": "HS256", "secret": "short"}}, "secret: HS256 needs a secret"),
        ({"jwt": {"algorithm": "RS256"}}, "[auth.jwt] public_key_file: RS256 needs"),
        (
            {"jwt": {"algorithm": "RS256", "public_key_file": "/nonexistent.pem"}},
            "public_key_file: cannot read /nonexistent.pem",
        ),
        ({"jwt": {"algorithm": "RS256", "public_key": "nope"}}, "is not a PEM public key"),
        (
            {"jwt": {"algorithm": "HS256", "secret": "s" * 40, "leeway": -1}},
            "[auth.jwt] leeway: must be a number of seconds",
        ),
        ({"jwt": {"algorithm": "HS256", "secret": "s" * 40, "kid": "1"}}, "kid: unknown key"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(auth: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(auth)
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message and message.startswith("gw.toml: ")


def test_a_secret_is_never_repeated_in_an_error() -> None:
    with pytest.raises(ConfigError) as raised:
        parse({"jwt": {"algorithm": "HS256", "secret": "${SECRET}"}}, {"SECRET": "tiny-secret"})
    assert "tiny-secret" not in str(raised.value)


def test_hs256_secret_from_the_environment_and_an_inline_public_key() -> None:
    auth = parse({"jwt": {"algorithm": "HS256", "secret": "${S}"}}, {"S": "x" * 32})
    assert auth.jwt.key == "x" * 32 and "x" * 32 not in repr(auth)
    pem = public_pem(OTHER_RSA_KEY).decode()
    assert parse({"jwt": {"algorithm": "RS256", "public_key": pem}}).jwt.algorithm == "RS256"


def _serve(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    config = tmp_path / "gw.toml"
    config.write_text(text)
    assert cli.main(["serve", "--config", str(config)]) == 0


def test_serve_warns_when_a_config_has_no_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sources = (
        '[sources.ingest]\nprovider = "data-cloud"\nbase_url = "https://x.test"\ntoken = "t"\n'
    )
    _serve(tmp_path, sources, monkeypatch)
    assert "has no [auth] table" in capsys.readouterr().err
    _serve(tmp_path, sources + f'[[auth.api_keys]]\nname = "a"\nsha256 = "{SHA}"\n'
           'scopes = ["jobs:read"]\n', monkeypatch)  # fmt: skip
    assert "[auth]" not in capsys.readouterr().err


def test_load_settings_reads_auth_from_a_file(tmp_path: Path) -> None:
    config = tmp_path / "gw.toml"
    config.write_text(
        '[sources.ingest]\nprovider = "data-cloud"\nbase_url = "https://x.test"\ntoken = "t"\n'
        f'[[auth.api_keys]]\nname = "a"\nsha256 = "{SHA}"\nscopes = ["jobs:read"]\n'
    )
    assert load_settings(config, {}).auth.api_keys[0].name == "a"
