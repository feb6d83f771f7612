"""The ``[idempotency]`` table: defaults, values, and one-line errors naming the key."""

from __future__ import annotations

import pytest

from jobgate.config import ConfigError, IdempotencySettings, parse_settings

SOURCES = {"ingest": {"provider": "data-cloud", "base_url": "https://dc.example.com", "token": "t"}}


def parse(table: object, **environ: str) -> IdempotencySettings:
    data = {"sources": SOURCES, "idempotency": table}
    return parse_settings(data, "gw.toml", environ).idempotency


def test_defaults_without_the_table() -> None:
    settings = parse_settings({"sources": SOURCES}, "gw.toml", {}).idempotency
    assert settings == IdempotencySettings(redis_url=None, ttl_seconds=86_400, max_keys=100_000)


def test_values_and_environment() -> None:
    settings = parse(
        {"redis_url": "rediss://:${REDIS_PW}@cache:6380/2", "ttl_seconds": 600, "max_keys": 50},
        REDIS_PW="pw",
    )
    assert settings.redis_url == "rediss://:pw@cache:6380/2"
    assert settings.ttl_seconds == 600.0
    assert settings.max_keys == 50
    assert "pw" not in repr(settings)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"redis": "redis://x"}, "gw.toml: [idempotency] redis: unknown key"),
        (
            {"redis_url": "http://:secret@cache"},
            "gw.toml: [idempotency] redis_url: must be a redis:// or rediss:// URL with a host",
        ),
        (
            {"redis_url": "redis://:secret@cache:99999"},
            "gw.toml: [idempotency] redis_url: must be a redis:// or rediss:// URL with a host",
        ),
        (
            {"redis_url": "${NOPE}"},
            "gw.toml: [idempotency] redis_url: environment variable NOPE is not set",
        ),
        (
            {"redis_url": "redis://:secret@cache?db=abc"},
            "gw.toml: [idempotency] redis_url: Invalid value for 'db' in connection URL.",
        ),
        (
            {"redis_url": "redis://:secret@cache?colour=blue"},
            "gw.toml: [idempotency] redis_url: unknown connection option 'colour'",
        ),
        ({"ttl_seconds": 0}, "gw.toml: [idempotency] ttl_seconds: must be a positive number"),
        ({"max_keys": 1.5}, "gw.toml: [idempotency] max_keys: must be a whole number"),
        ("redis://x", "gw.toml: idempotency: must be a table"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(table: object, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse(table)
    assert str(raised.value) == message
    assert "secret" not in str(raised.value)
